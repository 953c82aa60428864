import { NOTIFICATIONS_NAMESPACE } from '@herald/contracts';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { waitUntil } from './wait.js';

/**
 * A WebSocket peer that completes the upgrade and joins the notifications namespace, then answers nothing, the
 * server's close frame included: a hung device or a half-dead network path. Raw TCP, so no library answers for it.
 * Server frames are unmasked, so what the server sent can be read as text (`received`).
 */
export class SilentWebSocketPeer {
  private text = '';
  private readonly chunks: Buffer[] = [];
  private ended = false;

  /** Read anew after an await (a plain property read there is narrowed by the check before it). */
  hasEnded(): boolean {
    return this.ended;
  }

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.chunks.push(chunk);
    });
    socket.on('close', () => (this.ended = true));
    // The server ending the connection is what the tests watch for; errors (a reset) end it too.
    socket.on('error', () => (this.ended = true));
  }

  /** Upgrades with `Authorization: Bearer <token>` and sends the namespace CONNECT; resolves once the server accepted it. */
  static async connect(baseUrl: string, token: string): Promise<SilentWebSocketPeer> {
    const { hostname, port } = new URL(baseUrl);
    const socket = connect({ host: hostname, port: Number(port) });
    const peer = new SilentWebSocketPeer(socket);
    socket.write(
      [
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1',
        `Host: ${hostname}:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Authorization: Bearer ${token}`,
        '',
        '',
      ].join('\r\n'),
    );
    await waitUntil(() => peer.text.includes('0{"sid"') || peer.ended, 'the engine.io open packet');
    if (peer.ended) throw new Error(`the upgrade failed: ${peer.text}`);
    socket.write(maskedTextFrame(`40${NOTIFICATIONS_NAMESPACE},`));
    await waitUntil(() => peer.text.includes(`40${NOTIFICATIONS_NAMESPACE},{"sid"`) || peer.ended, 'the namespace CONNECT to be accepted');
    if (peer.hasEnded()) throw new Error(`the namespace CONNECT failed: ${peer.text}`);
    return peer;
  }

  /**
   * Stops reading: what the server sends piles up in the kernel's buffers, then in the server's (a stuck app, a link
   * that stopped carrying data while TCP has not noticed). `resumeReading` reads on.
   */
  stopReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** The text of every complete WebSocket frame received so far (the HTTP upgrade response skipped). */
  messages(): string[] {
    const all = Buffer.concat(this.chunks);
    let offset = all.indexOf('\r\n\r\n');
    if (offset < 0) return [];
    offset += 4;
    const messages: string[] = [];
    while (offset + 2 <= all.length) {
      const code = all[offset + 1] & 0x7f;
      let header = 2;
      let length = code;
      if (code === 126) {
        header = 4;
        if (offset + 4 > all.length) break;
        length = all.readUInt16BE(offset + 2);
      } else if (code === 127) {
        header = 10;
        if (offset + 10 > all.length) break;
        length = Number(all.readBigUInt64BE(offset + 2));
      }
      if (offset + header + length > all.length) break;
      messages.push(all.subarray(offset + header, offset + header + length).toString('utf8'));
      offset += header + length;
    }
    return messages;
  }

  /** The payloads of the events of `event` received so far, in order (socket.io EVENT packets of the notifications namespace). */
  events(event: string): unknown[] {
    const prefix = `42${NOTIFICATIONS_NAMESPACE},`;
    return this.messages().flatMap((message) => {
      if (!message.startsWith(prefix)) return [];
      const [name, payload] = JSON.parse(message.slice(prefix.length)) as [string, unknown];
      return name === event ? [payload] : [];
    });
  }

  /** Everything the server sent so far, frame headers included. */
  get received(): string {
    return this.text;
  }

  /** Whether the server has closed (or reset) the TCP connection. */
  get closedByServer(): boolean {
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * An HTTP request that stops arriving halfway through its headers, on a connection of its own: a client's next
 * long-poll stuck on a slow network. Node counts the connection as busy, so closing the server does not end it.
 */
export class StalledHttpRequest {
  private ended = false;

  /** Read anew after an await (a plain property read there is narrowed by the check before it). */
  hasEnded(): boolean {
    return this.ended;
  }

  private constructor(private readonly socket: Socket) {
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
  }

  /** Sends the request line and the Host header of `GET <path>`, and nothing more. */
  static async start(baseUrl: string, path: string): Promise<StalledHttpRequest> {
    const { hostname, port } = new URL(baseUrl);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`);
    return new StalledHttpRequest(socket);
  }

  /** Whether the server has closed (or reset) the TCP connection. */
  get closedByServer(): boolean {
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A client-to-server text frame (clients must mask), for payloads under 126 bytes. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('maskedTextFrame: payload too long for a one-byte length');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}
