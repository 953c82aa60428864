import { SocketWritePaths, type SocketWritePath } from '@herald/contracts';

/**
 * The one way notifications reach a socket: an event encoded once, written to each socket it is for.
 *
 * socket.io's own emit walks each socket through engine.io's generic write path: a packet object, `packetCreate` /
 * `flush` / `drain` events, a send-callback queue, a corked two-buffer `writev` and a completion callback. Per delivery
 * that is more user-space work than the notification itself. A socket on a plain WebSocket transport with nothing
 * queued gets the finished frame written as it is: one buffer, one `write`, the bytes engine.io would have written.
 * Any other socket (long-polling, mid-upgrade, packets already queued, per-message deflate, closing) takes engine.io's
 * own path, behind whatever is queued, so the order of packets on a connection never changes; `write` says which path
 * it took, and the gateway counts the fallbacks (`herald_socket_writes_total{path="engine"}`).
 *
 * Stored notifications are JSON text already: `encodeJson` frames that text without parsing it, as socket.io's
 * encoder would have (`<type><nsp>,["<event>",<json>]`). The constructor checks that equivalence against the server's
 * own encoder once; if a socket.io version encodes differently, `fastJson` is false and every payload is parsed and
 * encoded by socket.io (the gateway logs it and exposes it as `herald_socket_writer_fast_json`).
 *
 * These read engine.io and ws internals (`socket-writer.spec.ts` fails if they change).
 */
export class SocketWriter {
  /** Whether `encodeJson` frames JSON text directly (true) or parses it for socket.io's encoder (false). */
  readonly fastJson: boolean;
  private readonly prefix: string;

  constructor(private readonly namespace: LocalNamespace) {
    this.prefix = `${EVENT}${namespace.name === '/' ? '' : `${namespace.name},`}`;
    // Stored envelopes are JSON.stringify output; so is the probe.
    const probe = JSON.stringify({ id: 'x', data: [1, 'é\u2028', null, { a: '"' }], n: 1.5 });
    this.fastJson = this.concatenate('probe', probe) === this.viaEncoder('probe', JSON.parse(probe));
  }

  /** An event whose payload is a value. */
  encode(event: string, payload: unknown): EncodedEvent {
    return encoded(this.viaEncoder(event, payload));
  }

  /** An event whose payload is already JSON text (a stored notification). */
  encodeJson(event: string, json: string): EncodedEvent {
    return encoded(this.fastJson ? this.concatenate(event, json) : this.viaEncoder(event, JSON.parse(json)));
  }

  /** Writes to one socket: `frame` (the direct path), `engine` (engine.io's), or undefined when the socket is not open. */
  write(socket: { readonly conn: object }, event: EncodedEvent): WritePath | undefined {
    return write(socket, event);
  }

  private concatenate(event: string, json: string): string {
    return `${this.prefix}[${JSON.stringify(event)},${json}]`;
  }

  private viaEncoder(event: string, payload: unknown): string {
    // The server's encoder (its `parser` option): the packet socket.io would have built.
    const [packet] = this.namespace.server.encoder.encode({ type: EVENT, data: [event, payload], nsp: this.namespace.name });
    if (typeof packet !== 'string') throw new TypeError('SocketWriter: binary payloads are not supported');
    return packet;
  }
}

export type WritePath = SocketWritePath;

/** What it reads of a socket.io Namespace: its name and the server's encoder. */
export interface LocalNamespace {
  readonly name: string;
  readonly server: { readonly encoder: { encode(packet: { type: number; nsp: string; data: unknown[] }): unknown[] } };
}

export interface EncodedEvent {
  /** The socket.io packet, as engine.io's write() takes it. */
  packet: string;
  /** The same packet as one complete WebSocket frame, engine.io's message prefix included (the list ws's sendFrame takes). */
  frame: [Buffer];
}

const encoded = (packet: string): EncodedEvent => ({ packet, frame: [textFrame(ENGINE_MESSAGE + packet)] });

// socket.io-parser's EVENT packet type and engine.io's "message" packet prefix: fixed by their protocols.
const EVENT = 2;
const ENGINE_MESSAGE = '4';

/** An unmasked, final WebSocket text frame (RFC 6455 §5.2) in one buffer: servers never mask. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

// The engine.io and ws internals the direct path reads; engine.io's own WebSocket transport uses the same ones.
interface WsSender {
  sendFrame(list: Buffer[], cb?: (error?: Error) => void): void;
}
interface EngineTransport {
  name: string;
  writable: boolean;
  perMessageDeflate?: unknown;
  /** The ws WebSocket: `bufferedAmount` and `terminate()` are ws' public API; engine.io keeps the object as `socket`. */
  socket?: { readyState?: number; bufferedAmount?: unknown; terminate?: unknown; _sender?: Partial<WsSender> };
}
interface EngineSocket {
  readyState: string;
  writeBuffer?: Array<{ data?: unknown }>;
  transport: EngineTransport;
  write(data: string): void;
  close(discard?: boolean): void;
}

/** How many bytes wait to go out to one socket, and whether all of them could be seen. */
export interface QueuedBytes {
  bytes: number;
  /**
   * False when the socket is on a WebSocket whose buffered amount could not be read (engine.io or ws moved it): only
   * engine.io's own queue was counted, which misses what ws and the kernel socket hold. The caller counts these.
   */
  measured: boolean;
}

/**
 * Bytes queued for a socket and not yet taken by the kernel: engine.io's packet queue (what waits while the transport
 * is busy) plus, on a WebSocket, ws' `bufferedAmount` (frames written, the direct path's included, still in the
 * Node socket). The per-socket bound on outbound memory reads it (slow consumers).
 */
export function queuedBytes(socket: { readonly conn: object }): QueuedBytes {
  const conn = socket.conn as unknown as EngineSocket;
  let bytes = 0;
  for (const packet of conn.writeBuffer ?? []) bytes += typeof packet.data === 'string' ? packet.data.length : 0;
  const transport = conn.transport as EngineTransport | undefined;
  if (transport?.name !== 'websocket') return { bytes, measured: true };
  const buffered = transport.socket?.bufferedAmount;
  return typeof buffered === 'number' ? { bytes: bytes + buffered, measured: true } : { bytes, measured: false };
}

/**
 * Ends a connection now, whatever it has queued: engine.io's close discarding its queue (a plain close waits for the
 * queue to drain, which a client that does not read never lets happen), then, after `graceMs` for a close frame that
 * a slow (not stuck) client may still read, ws' terminate(), which frees what ws and the kernel socket still hold.
 */
export function closeNow(socket: { readonly conn: object }, graceMs: number): void {
  const conn = socket.conn as unknown as EngineSocket;
  const ws = conn.transport.socket;
  conn.close(true);
  if (typeof ws?.terminate !== 'function') return;
  const terminate = ws.terminate as () => void;
  setTimeout(() => terminate.call(ws), graceMs).unref();
}

const WS_OPEN = 1;

function write(socket: { readonly conn: object }, encoded: EncodedEvent): WritePath | undefined {
  const conn = socket.conn as unknown as EngineSocket;
  if (conn.readyState !== 'open') return undefined;
  const transport = conn.transport;
  const idleWebSocket = conn.writeBuffer?.length === 0 && transport.name === 'websocket' && transport.writable && !transport.perMessageDeflate;
  const ws = idleWebSocket ? transport.socket : undefined;
  const sendFrame = ws?._sender?.sendFrame;
  if (ws?.readyState === WS_OPEN && typeof sendFrame === 'function') {
    sendFrame.call(ws._sender, encoded.frame);
    return SocketWritePaths.Frame;
  }
  // socket.io's own client write: engine.io queues it behind anything pending and encodes it for its transport.
  conn.write(encoded.packet);
  // An idle WebSocket whose ws internals are not where the fast path looks (no socket, no readyState, no sender): a
  // changed dependency, counted apart from the sockets that need engine.io's path anyway (polling, closing...).
  const internalsFound = ws !== undefined && typeof ws.readyState === 'number' && (ws.readyState !== WS_OPEN || typeof sendFrame === 'function');
  return idleWebSocket && !internalsFound ? SocketWritePaths.Fallback : SocketWritePaths.Engine;
}
