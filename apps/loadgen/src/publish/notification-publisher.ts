import { COMMAND_STREAM, ClientEvents, NOTIFICATIONS_NAMESPACE, Patterns, userRoom, type NotificationEnvelope, type NotifyUserInput } from '@herald/contracts';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient, type RedisClientType } from 'redis';
import { BENCH_NOTIFICATION_TYPE, userIdOf, type BenchPayload } from '../workers/workload.js';

/** Sends one bench notification to one user, without waiting: the pacer must not block on Redis round trips. */
export interface NotificationPublisher {
  publish(userIndex: number, payload: BenchPayload): void;
  /** Publishes Redis refused or failed. */
  readonly errors: number;
  close(): Promise<void>;
}

async function connectRedis(url: string): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** What Herald's publishers send: a `notify.user` command appended to the command stream (what HeraldPublisher does). */
export class HeraldCommandPublisher implements NotificationPublisher {
  errors = 0;

  private constructor(private readonly client: RedisClientType) {}

  static async connect(redisUrl: string): Promise<HeraldCommandPublisher> {
    return new HeraldCommandPublisher(await connectRedis(redisUrl));
  }

  publish(userIndex: number, payload: BenchPayload): void {
    const command: NotifyUserInput = {
      userId: userIdOf(userIndex),
      type: BENCH_NOTIFICATION_TYPE,
      id: `${payload.run}:${payload.seq}`,
      sentAt: Date.now(),
      data: payload,
    };
    this.client.xAdd(COMMAND_STREAM, '*', { pattern: Patterns.NotifyUser, data: JSON.stringify(command) }).catch(() => this.errors++);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}

interface EmitterEvents {
  [ClientEvents.Notification]: (envelope: NotificationEnvelope) => void;
}

/** What the baseline's users would do: build the client payload themselves and emit it to the room via @socket.io/redis-emitter. */
export class BaselineEmitterPublisher implements NotificationPublisher {
  errors = 0;
  private readonly emitter: Emitter<EmitterEvents>;

  private constructor(private readonly client: RedisClientType) {
    // The emitter fires PUBLISH and drops the promise; this hands it the client with failures counted instead.
    const counted = { publish: (channel: string, message: Buffer | string) => client.publish(channel, message).catch(() => this.errors++) };
    this.emitter = new Emitter<EmitterEvents>(counted).of(NOTIFICATIONS_NAMESPACE);
  }

  static async connect(redisUrl: string): Promise<BaselineEmitterPublisher> {
    return new BaselineEmitterPublisher(await connectRedis(redisUrl));
  }

  publish(userIndex: number, payload: BenchPayload): void {
    this.emitter.to(userRoom(userIdOf(userIndex))).emit(ClientEvents.Notification, {
      id: `${payload.run}:${payload.seq}`,
      type: BENCH_NOTIFICATION_TYPE,
      data: payload,
      createdAt: new Date().toISOString(),
      // The baseline stores nothing; its envelope carries a cursor only to have Herald's shape.
      cursor: `${payload.run}.${payload.seq}`,
    });
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}

/** The pid of a local redis-server, from INFO (so targets given by URL can be measured too when they are local). */
export async function redisServerPid(redisUrl: string): Promise<number | undefined> {
  const client = await connectRedis(redisUrl);
  try {
    const match = /^process_id:(\d+)/m.exec(await client.info('server'));
    return match ? Number(match[1]) : undefined;
  } finally {
    await client.close();
  }
}
