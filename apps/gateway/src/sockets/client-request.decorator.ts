import { SetMetadata } from '@nestjs/common';
import type { ClientRequest, RequestErrorCode } from '@herald/contracts';
import type { z } from 'zod';
import type { NotificationSocket } from './socket.types.js';

export const CLIENT_REQUEST_HANDLER = Symbol('herald:client-request');

export interface ClientRequestMetadata {
  event: ClientRequest;
  /** The payload is parsed with this before the handler sees it; a mismatch is answered `invalid_request`. */
  schema: z.ZodType;
}

/** A handler: the socket that asked, and the parsed request. What it returns is the reply (events without one ignore it). */
export type ClientRequestHandler = (socket: NotificationSocket, request: unknown) => unknown;

/**
 * Marks a provider method as the handler of one client request (ClientRequests in contracts). ClientRequestDispatcher
 * finds them at startup: one listener per socket for every request, where Nest's @SubscribeMessage would add one per
 * event per socket.
 */
export const OnClientRequest = (event: ClientRequest, schema: z.ZodType): MethodDecorator =>
  SetMetadata<symbol, ClientRequestMetadata>(CLIENT_REQUEST_HANDLER, { event, schema });

/** Thrown by a handler: answered `{ error: { code, message } }`, counted by code; nothing else happens. */
export class RequestFailure extends Error {
  constructor(
    readonly code: RequestErrorCode,
    message: string,
  ) {
    super(message);
  }
}
