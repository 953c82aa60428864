import { Injectable } from '@nestjs/common';
import {
  CommandRejectReasons,
  NotifyBroadcastCommandSchema,
  NotifyUserCommandSchema,
  NotifyUsersCommandSchema,
  Patterns,
  type CommandRejectReason,
  type NotifyBroadcastCommand,
  type NotifyPattern,
  type NotifyUserCommand,
  type NotifyUsersCommand,
} from '@herald/contracts';
import type { z } from 'zod';
import { AppConfig } from '../config/app-config.js';
import { MalformedCommand } from './command.deserializer.js';
import { jsonText } from './envelope.factory.js';
import { fastCheck } from './fast-command-check.js';

export type ValidCommand =
  | { pattern: typeof Patterns.NotifyUser; command: NotifyUserCommand }
  | { pattern: typeof Patterns.NotifyUsers; command: NotifyUsersCommand }
  | { pattern: typeof Patterns.NotifyBroadcast; command: NotifyBroadcastCommand };

export type ValidationResult = ({ ok: true } & ValidCommand) | { ok: false; reason: CommandRejectReason; detail: string };

const SCHEMAS = {
  [Patterns.NotifyUser]: NotifyUserCommandSchema,
  [Patterns.NotifyUsers]: NotifyUsersCommandSchema,
  [Patterns.NotifyBroadcast]: NotifyBroadcastCommandSchema,
} as const satisfies Record<NotifyPattern, z.ZodType>;

/** Turns a transport payload into a typed command, or a reason that is logged and counted. Never throws. */
@Injectable()
export class CommandValidatorService {
  private readonly maxPayloadBytes: number;

  constructor(config: AppConfig) {
    this.maxPayloadBytes = config.maxPayloadBytes;
  }

  validate(pattern: NotifyPattern, raw: unknown): ValidationResult {
    if (raw instanceof MalformedCommand) {
      return { ok: false, reason: raw.reason, detail: raw.detail };
    }
    // The common valid shapes skip zod; zod decides (and words the error) for everything else.
    const checked = fastCheck(pattern, raw) ?? this.parse(pattern, raw);
    if (!checked.ok) return checked;
    const size = Buffer.byteLength(jsonText(checked.command.data));
    if (size > this.maxPayloadBytes) {
      return { ok: false, reason: CommandRejectReasons.PayloadTooLarge, detail: `data is ${size} bytes, limit is ${this.maxPayloadBytes}` };
    }
    return checked;
  }

  private parse(pattern: NotifyPattern, raw: unknown): ValidationResult {
    const parsed = SCHEMAS[pattern].safeParse(raw);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
      return { ok: false, reason: CommandRejectReasons.InvalidShape, detail };
    }
    // The schema map keeps pattern and command in step; TypeScript cannot see that through the index.
    return { ok: true, pattern, command: parsed.data } as { ok: true } & ValidCommand;
  }
}
