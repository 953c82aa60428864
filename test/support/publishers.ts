import { encodeCommand, type Pattern } from '@herald/contracts';
import { createClient, type RedisClientType } from 'redis';

/** Publishes like a non-Nest service would: raw PUBLISH of the wire format, or any bytes at all. */
export class RawPublisher {
  private constructor(private readonly client: RedisClientType) {}

  static async connect(redisUrl: string): Promise<RawPublisher> {
    const client: RedisClientType = createClient({ url: redisUrl });
    client.on('error', () => undefined);
    await client.connect();
    return new RawPublisher(client);
  }

  /** Returns how many subscribers (gateway transport clients) received it. */
  async publish(pattern: Pattern, data: unknown): Promise<number> {
    return this.client.publish(pattern, encodeCommand(pattern, data));
  }

  async publishRaw(channel: string, message: string): Promise<number> {
    return this.client.publish(channel, message);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
