import { createRequire } from 'node:module';
import type * as SocketIoParser from 'socket.io-parser';

// The CommonJS build socket.io itself loads: one copy of the parser, and the same Encoder socket.io would use.
const parser = createRequire(import.meta.url)('socket.io-parser') as typeof SocketIoParser;

export interface ClientPacketCounter {
  /** A client sent data that is no socket.io packet (or that socket.io failed on while handling it). */
  undecodable(): void;
}

/**
 * socket.io's own parser, for the `parser` server option, with a Decoder that counts what clients send. Every
 * connection already has its Decoder, so counting there costs nothing per connection; the per-socket hooks do (a
 * socket middleware grows the socket's middleware list, an `error` listener turns socket.io's single one into an
 * array: ~0.2 KB per idle connection together).
 */
export function countingParser(counter: ClientPacketCounter): Pick<typeof SocketIoParser, 'protocol' | 'PacketType' | 'Encoder' | 'Decoder'> {
  class CountingDecoder extends parser.Decoder {
    // socket.io's Client catches what add() throws and closes the connection with an error on each of its sockets.
    override add(chunk: unknown): void {
      try {
        super.add(chunk);
      } catch (error) {
        counter.undecodable();
        throw error;
      }
    }
  }

  return { protocol: parser.protocol, PacketType: parser.PacketType, Encoder: parser.Encoder, Decoder: CountingDecoder };
}
