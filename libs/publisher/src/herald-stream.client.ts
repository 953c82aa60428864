import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { COMMAND_STREAM } from '@herald/contracts';
import { Redis } from 'ioredis';

/**
 * The client side of Herald's command transport: `emit(pattern, data)` appends one entry to the command stream
 * (`XADD herald:{commands} * pattern <pattern> data <JSON>`, the format docs/protocol.md gives for any language) and
 * completes once Redis has accepted it. From then on the command survives gateway restarts: a gateway acknowledges it
 * only after storing it.
 *
 * While Redis is unreachable the XADD waits and is sent on reconnection; one in flight when a connection broke is sent
 * again. Either way the gateway stores a notification once per id, so a command resent with the same id is harmless.
 * Requests (`send`) are not carried: presence queries go over pub/sub (HeraldPublisher.presence).
 */
export class HeraldStreamClient extends ClientProxy {
  private client: Redis | undefined;

  constructor(private readonly redisUrl: string) {
    super();
    this.initializeSerializer({});
    this.initializeDeserializer({});
  }

  async connect(): Promise<Redis> {
    if (this.client !== undefined) return this.client;
    const client = new Redis(this.redisUrl, {
      lazyConnect: true,
      protocol: 2,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000),
    });
    client.on('error', () => undefined);
    this.client = client;
    await client.connect().catch(async () => {
      // The first attempt failed; ioredis keeps trying. Commands queue meanwhile.
    });
    return client;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client?.status === 'ready') await client.quit();
    else client?.disconnect();
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- Nest's ClientProxy declares unwrap<T>()
  unwrap<T>(): T {
    if (this.client === undefined) throw new Error('HeraldStreamClient: not connected');
    return this.client as T;
  }

  protected async dispatchEvent<T>(packet: ReadPacket): Promise<T> {
    const client = await this.connect();
    const { pattern, data } = this.serializer.serialize(packet) as { pattern: unknown; data: unknown };
    return (await client.xadd(COMMAND_STREAM, '*', 'pattern', String(pattern), 'data', JSON.stringify(data))) as T;
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: 'HeraldStreamClient carries events only: send presence queries over pub/sub', isDisposed: true });
    return () => undefined;
  }
}
