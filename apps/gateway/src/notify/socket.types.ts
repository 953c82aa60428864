import type { ClientToServerEvents, ServerToClientEvents } from '@herald/contracts';
import type { Namespace, Socket } from 'socket.io';

export interface SocketData {
  userId: string;
  /** Token expiry, epoch milliseconds. */
  expiresAt: number;
  expiryTimer?: NodeJS.Timeout;
}

// Inter-server events are unused: instances never relay notifications to each other.
export type NotificationNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type NotificationSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
