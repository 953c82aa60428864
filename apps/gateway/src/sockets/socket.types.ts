import { InterServerEventNames, type ClientToServerEvents, type ServerToClientEvents } from '@herald/contracts';
import type { Namespace, Server, Socket } from 'socket.io';

/** Kept plain and small: the Redis adapter serialises it whenever another instance fetches sockets. */
export interface SocketData {
  userId: string;
  /** Token expiry, the JWT's `exp` (epoch seconds): a small integer, where milliseconds would be a heap number per socket. */
  tokenExp: number;
}

/** Instances never relay notifications to each other; they only ask each other for counts. */
export interface InterServerEvents {
  [InterServerEventNames.CountUserSockets]: (userId: string, ack: (count: number) => void) => void;
}

export type NotificationNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type NotificationSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type NotificationServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
