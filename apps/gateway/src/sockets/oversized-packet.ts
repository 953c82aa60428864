/**
 * Whether a socket's disconnect was a client packet over `maxHttpBufferSize` (MAX_CLIENT_PACKET_BYTES) on a WebSocket:
 * ws refuses the frame ("Max payload size exceeded", its RangeError WS_ERR_UNSUPPORTED_MESSAGE_LENGTH) and engine.io
 * reports a `transport error` whose description carries ws' message. Only the message survives engine.io's wrapping,
 * so it is matched here, in one place; `oversized-packet.spec.ts` fails when engine.io or ws say it differently.
 * (A long-polling body over the limit gets HTTP 413 from engine.io and leaves the session open: not a disconnect.)
 */
export function isOversizedPacket(reason: string, description: unknown): boolean {
  return reason === 'transport error' && description instanceof Error && description.message.includes('Max payload size exceeded');
}
