import type { ConsumerDeserializer, IncomingEvent, IncomingRequest } from '@nestjs/microservices';
import { CommandRejectReasons, type CommandRejectReason } from '@herald/contracts';

/** Stands in for `data` when the Redis message itself is unusable, so the handler can reject and count it. */
export class MalformedCommand {
  constructor(
    readonly reason: CommandRejectReason,
    readonly detail: string,
  ) {}
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Nest's default deserializer routes by the `pattern` inside the message and turns garbage into
 * "no handler" errors nobody can count. This one routes by the channel (the only thing Redis vouches for)
 * and hands malformed messages to the handler as a MalformedCommand.
 */
export class CommandDeserializer implements ConsumerDeserializer {
  deserialize(value: unknown, options?: Record<string, unknown>): IncomingRequest | IncomingEvent {
    const channel = typeof options?.['channel'] === 'string' ? options['channel'] : '';
    if (typeof value === 'string' && !isJson(value)) {
      return { pattern: channel, data: new MalformedCommand(CommandRejectReasons.NotJson, 'message is not JSON') };
    }
    if (!isRecord(value) || !('data' in value)) {
      return {
        pattern: channel,
        data: new MalformedCommand(CommandRejectReasons.NotAnEnvelope, 'message must be {"pattern": ..., "data": ...}'),
      };
    }
    const id = value['id'];
    return typeof id === 'string' ? { pattern: channel, data: value['data'], id } : { pattern: channel, data: value['data'] };
  }
}

// Nest already tried JSON.parse and passes the raw string on failure; a string that parses was a JSON string literal.
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
