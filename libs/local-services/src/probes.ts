import { createServer } from 'node:net';
import { createClient } from 'redis';

/**
 * Small probes shared by the local cluster (`npm start`) and the test topologies, which both start
 * redis-server, gateways and friends on this machine and wait for them.
 */

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** True when a Redis at `url` answers PING; false (never a throw) while it is not there yet. */
export async function pingRedis(url: string, connectTimeoutMs = 500): Promise<boolean> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: connectTimeoutMs } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) await client.close();
  }
}
