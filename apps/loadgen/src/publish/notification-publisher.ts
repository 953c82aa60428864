import {
  COMMAND_STREAM,
  ClientEvents,
  NOTIFICATIONS_NAMESPACE,
  Patterns,
  encodeCommand,
  userRoom,
  type NotificationEnvelope,
  type NotifyUserInput,
} from '@herald/contracts';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient, type RedisClientType } from 'redis';
import { PacketType } from 'socket.io-parser';
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

/** One Redis client per publisher; a refused or failed write is counted, never awaited by the pacer. */
abstract class RedisPublisher implements NotificationPublisher {
  errors = 0;

  constructor(protected readonly client: RedisClientType) {}

  abstract publish(userIndex: number, payload: BenchPayload): void;

  protected count(write: Promise<unknown>): void {
    write.catch(() => this.errors++);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}

/** The `notify.user` command of a bench notification, as Herald's publishers send it. */
function benchCommand(userIndex: number, payload: BenchPayload): NotifyUserInput {
  return { userId: userIdOf(userIndex), type: BENCH_NOTIFICATION_TYPE, id: benchId(payload), sentAt: Date.now(), data: payload };
}

/** The envelope a baseline's own users would build (Herald's shape, without the cursor only a store can give). */
function benchEnvelope(payload: BenchPayload): Omit<NotificationEnvelope, 'cursor'> {
  return { id: benchId(payload), type: BENCH_NOTIFICATION_TYPE, data: payload, createdAt: new Date().toISOString() };
}

const benchId = (payload: BenchPayload): string => `${payload.run}:${payload.seq}`;

/** What Herald's publishers send: a `notify.user` command appended to the command stream (what HeraldPublisher does). */
export class HeraldCommandPublisher extends RedisPublisher {
  static async connect(redisUrl: string): Promise<HeraldCommandPublisher> {
    return new HeraldCommandPublisher(await connectRedis(redisUrl));
  }

  publish(userIndex: number, payload: BenchPayload): void {
    this.count(this.client.xAdd(COMMAND_STREAM, '*', { pattern: Patterns.NotifyUser, data: JSON.stringify(benchCommand(userIndex, payload)) }));
  }
}

interface EmitterEvents {
  [ClientEvents.Notification]: (envelope: NotificationEnvelope) => void;
}

/** What the baseline's users would do: build the client payload themselves and emit it to the room via @socket.io/redis-emitter. */
export class BaselineEmitterPublisher extends RedisPublisher {
  private readonly emitter: Emitter<EmitterEvents>;

  private constructor(client: RedisClientType) {
    super(client);
    // The emitter fires PUBLISH and drops the promise; this hands it the client with failures counted instead.
    const counted = { publish: (channel: string, message: Buffer | string) => this.count(client.publish(channel, message)) };
    this.emitter = new Emitter<EmitterEvents>(counted).of(NOTIFICATIONS_NAMESPACE);
  }

  static async connect(redisUrl: string): Promise<BaselineEmitterPublisher> {
    return new BaselineEmitterPublisher(await connectRedis(redisUrl));
  }

  publish(userIndex: number, payload: BenchPayload): void {
    // The baseline stores nothing; its envelope carries a cursor only to have Herald's shape.
    this.emitter.to(userRoom(userIdOf(userIndex))).emit(ClientEvents.Notification, { ...benchEnvelope(payload), cursor: `${payload.run}.${payload.seq}` });
  }
}

/**
 * What Herald's previous publishers sent, and what the `local` baseline (and Herald before durable delivery) reads: a
 * `notify.user` command in Nest's Redis transport wire format, PUBLISHed on its channel; every instance receives it.
 */
export class PubSubCommandPublisher extends RedisPublisher {
  static async connect(redisUrl: string): Promise<PubSubCommandPublisher> {
    return new PubSubCommandPublisher(await connectRedis(redisUrl));
  }

  publish(userIndex: number, payload: BenchPayload): void {
    this.count(this.client.publish(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, benchCommand(userIndex, payload))));
  }
}

/** The stream `@socket.io/redis-streams-adapter` reads by default (one stream for every namespace). */
export const STREAMS_ADAPTER_STREAM = 'socket.io';
/** Cap of that stream, given to the publisher and the streams servers alike (bench/baseline/streams-server.ts). */
export const STREAMS_MAX_LEN = 100_000;
/** socket.io-adapter's ClusterAdapter: a broadcast message, and the sender id it reserves for emitters (not a server). */
const CLUSTER_BROADCAST = '3';
const EMITTER_UID = 'emitter';

/**
 * The streams baseline's publisher: `@socket.io/redis-streams-adapter` has no emitter package (npm has no
 * `@socket.io/redis-streams-emitter`), so this does what `@socket.io/redis-emitter` does for the pub/sub adapter: it
 * appends the adapter's own broadcast entry (`uid`, `nsp`, `type`, `data` = JSON of the packet and the rooms) to the
 * adapter's stream with the adapter's approximate trimming, exactly what a server's `io.to(room).emit()` appends.
 * Every instance reads it, delivers to its sockets in the room and stamps the entry id as the recovery offset.
 */
export class StreamsEmitterPublisher extends RedisPublisher {
  static async connect(redisUrl: string): Promise<StreamsEmitterPublisher> {
    return new StreamsEmitterPublisher(await connectRedis(redisUrl));
  }

  publish(userIndex: number, payload: BenchPayload): void {
    const data = JSON.stringify({
      packet: { type: PacketType.EVENT, data: [ClientEvents.Notification, benchEnvelope(payload)], nsp: NOTIFICATIONS_NAMESPACE },
      opts: { rooms: [userRoom(userIdOf(userIndex))], except: [], flags: {} },
    });
    this.count(
      this.client.xAdd(
        STREAMS_ADAPTER_STREAM,
        '*',
        { uid: EMITTER_UID, nsp: NOTIFICATIONS_NAMESPACE, type: CLUSTER_BROADCAST, data },
        { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: STREAMS_MAX_LEN } },
      ),
    );
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
