import type { Server } from 'node:http';
import { Logger } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';

/**
 * Nest's Express adapter with a close() that stays prompt without tracking connections while the server runs (Nest's
 * `forceCloseConnections` holds a listener, its closure and a Set entry per TCP connection for the connection's
 * lifetime: ~0.26 KB of heap per idle client).
 *
 * When it runs, sessions are already ended (NotifyGateway.beforeApplicationShutdown). Node's `server.close()` stops
 * listening and closes idle keep-alive connections; whatever is still open gets `graceMs` to finish by itself (an HTTP
 * response in flight, a WebSocket peer answering the close frame). Then every HTTP connection is destroyed (a
 * long-poll that nobody will answer, a keep-alive connection a client kept busy) and close() returns. Upgraded
 * WebSocket connections are no longer Node's HTTP connections: one whose peer never answers the close frame (ws
 * waits 30 s for it) is not waited for, and the process exit that follows shutdown ends it.
 */
export class PromptCloseExpressAdapter extends ExpressAdapter {
  private readonly log = new Logger('HttpServer');

  constructor(private readonly graceMs: number) {
    super();
  }

  override async close(): Promise<void> {
    const server = this.getHttpServer() as Server | undefined;
    const closed = super.close();
    if (!server || !closed) return;
    if (await settlesWithin(closed, this.graceMs)) return;
    server.closeAllConnections();
    // Destroyed sockets leave the server's count once their handles have closed, a turn of the event loop later.
    if (await settlesWithin(closed, 0)) return;
    const open = await new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
    if (open > 0) {
      this.log.warn(`${open} WebSocket connection(s) still open ${this.graceMs} ms after their close frame: ended by the process exit`);
    }
  }
}

/** Whether `promise` settles within `ms` (0: before the timers phase of the next event-loop turn). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
