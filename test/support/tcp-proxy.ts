import { createServer, connect, type Server, type Socket } from 'node:net';

/** What the proxy keeps of one proxied connection: the start of what the client sent, and whether replies still flow. */
interface ProxiedConnection {
  readonly client: Socket;
  readonly upstream: Socket;
  /** The first bytes the client sent (up to 64 KiB), to tell connections apart by their commands. */
  sent: string;
  /** While true, what the server sends is dropped: the client's connection stays open and hears nothing. */
  deaf: boolean;
}

const SENT_KEPT = 64 * 1024;

/**
 * A loopback TCP proxy in front of a server (Redis), for faults a real network makes and a server never does: a
 * connection that stays open while nothing the server sends reaches the client (a half-open path, a middlebox that
 * stopped forwarding one way). Every connection is its own pair of sockets; closing either side closes the other.
 */
export class TcpProxy {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly connections: Set<ProxiedConnection>,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const connections = new Set<ProxiedConnection>();
    const server = createServer((client) => {
      const upstream = connect({ host: targetHost, port: targetPort });
      const connection: ProxiedConnection = { client, upstream, sent: '', deaf: false };
      connections.add(connection);
      client.on('data', (chunk: Buffer) => {
        if (connection.sent.length < SENT_KEPT) connection.sent += chunk.toString('latin1');
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!connection.deaf) client.write(chunk);
      });
      const close = (): void => {
        connections.delete(connection);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpProxy: no port');
    return new TcpProxy(server, address.port, connections);
  }

  /** A redis:// URL through the proxy. */
  get redisUrl(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Open connections through the proxy. */
  get size(): number {
    return this.connections.size;
  }

  /**
   * Stops forwarding what the server sends on every open connection whose client sent `command` (case-insensitive,
   * e.g. `ssubscribe`); the connections stay open. Returns how many were made deaf. New connections are not affected.
   */
  deafen(command: string): number {
    const needle = command.toLowerCase();
    let count = 0;
    for (const connection of this.connections) {
      if (connection.sent.toLowerCase().includes(needle)) {
        connection.deaf = true;
        count++;
      }
    }
    return count;
  }

  /** Open connections made deaf and still open: 0 once the client gave up on them. */
  get deafConnections(): number {
    return [...this.connections].filter((connection) => connection.deaf).length;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) {
      connection.client.destroy();
      connection.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
