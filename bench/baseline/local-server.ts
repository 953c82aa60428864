/**
 * The bare baseline in its strongest form: Herald's previous design written on bare socket.io. Every instance
 * subscribes to the `notify.user` channel (Nest's Redis transport wire format, `{"pattern":"notify.user","data":{…}}`,
 * what Herald's publishers sent before the command stream), parses each command and emits it only to its own sockets
 * in the user's room (`local.to(room).emit`): no adapter publish, no Redis round trip per notification, nothing
 * stored. An instance without a socket of the user stops after the parse and the room lookup. Like Herald before,
 * it loses whatever is published while a device is away.
 *
 * socket.io runs on its default in-memory adapter: the previous design needed the Redis adapter only for presence
 * questions, which the benchmark does not ask, and emitting locally never touches an adapter's Redis.
 *
 * Environment: PORT, HOST (default 127.0.0.1), REDIS_URL, JWT_SECRET.
 */
import { randomUUID } from 'node:crypto';
import { ClientEvents, Patterns, userRoom, type NotificationEnvelope } from '@herald/contracts';
import { createClient, type RedisClientType } from 'redis';
import { readEnvironment, startBareServer } from './bare-server.js';

interface NotifyUserCommand {
  userId?: unknown;
  type?: unknown;
  id?: unknown;
  sentAt?: unknown;
  data?: unknown;
}

const env = readEnvironment('local');
const sub: RedisClientType = createClient({ url: env.redisUrl });
sub.on('error', (error: Error) => process.stderr.write(`local: redis error: ${error.message}\n`));
await sub.connect();

const { notifications } = startBareServer(env, { name: 'local', close: () => sub.close() });
// Operators are immutable: one `local` operator for every emit.
const local = notifications.local;
const rooms = notifications.adapter.rooms;

await sub.subscribe(Patterns.NotifyUser, (message: string) => {
  let command: NotifyUserCommand | undefined;
  try {
    command = (JSON.parse(message) as { data?: NotifyUserCommand }).data;
  } catch {
    return;
  }
  if (typeof command?.userId !== 'string') return;
  const room = userRoom(command.userId);
  if (!rooms.has(room)) return;
  const envelope: Omit<NotificationEnvelope, 'cursor'> = {
    id: typeof command.id === 'string' ? command.id : randomUUID(),
    type: typeof command.type === 'string' ? command.type : 'notification',
    data: command.data,
    createdAt: new Date(typeof command.sentAt === 'number' ? command.sentAt : Date.now()).toISOString(),
  };
  local.to(room).emit(ClientEvents.Notification, envelope);
});
