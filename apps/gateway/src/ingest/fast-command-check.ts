import {
  MAX_ID_LENGTH,
  MAX_TYPE_LENGTH,
  MAX_USER_IDS,
  Patterns,
  type NotifyBroadcastCommand,
  type NotifyPattern,
  type NotifyUserCommand,
  type NotifyUsersCommand,
} from '@herald/contracts';
import type { ValidCommand } from './command-validator.service.js';

/**
 * The common, valid shapes of notify commands, checked by hand: zod's parse costs several microseconds per command
 * on the hot path, where every instance checks every command. This check only ever ACCEPTS; whenever it is not sure
 * (a wrong field, an unusual value) it returns undefined and the zod schema in @herald/contracts, which stays the
 * schema of record, decides and words the error. For anything it accepts it returns exactly what the schema's parse
 * returns (defaults applied, unknown fields stripped, userIds deduplicated); command-validator.service.spec.ts
 * compares the two over valid and invalid inputs.
 */
export type FastChecked = { ok: true } & ValidCommand;

const DEFAULT_TYPE = 'notification';
const MAX_SENT_AT = 8.64e15;

type Fields = Record<string, unknown>;

const isPlainObject = (value: unknown): value is Fields => {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

const isId = (value: unknown): value is string => typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH;

/**
 * Checks type, data, id and sentAt and writes them onto `command` in the schema's output form (same key order, the
 * default type, no key for an absent optional field). False when the schema must decide.
 */
function addBase(raw: Fields, command: Fields): boolean {
  const { type = DEFAULT_TYPE, data, id, sentAt } = raw;
  if (typeof type !== 'string' || type.length < 1 || type.length > MAX_TYPE_LENGTH) return false;
  if (data === undefined) return false;
  if (id !== undefined && !isId(id)) return false;
  if (sentAt !== undefined && !(typeof sentAt === 'number' && sentAt >= 0 && sentAt <= MAX_SENT_AT)) return false;
  command['type'] = type;
  command['data'] = data;
  if (id !== undefined) command['id'] = id;
  if (sentAt !== undefined) command['sentAt'] = sentAt;
  return true;
}

// The command object is built once, in its final shape: no spread copies on the hot path. The casts are sound:
// addBase has checked and written every field the schema's output type has.
export function fastCheck(pattern: NotifyPattern, raw: unknown): FastChecked | undefined {
  if (!isPlainObject(raw)) return undefined;
  switch (pattern) {
    case Patterns.NotifyUser: {
      const { userId } = raw;
      if (!isId(userId)) return undefined;
      const command: Fields = { userId };
      return addBase(raw, command) ? { ok: true, pattern, command: command as NotifyUserCommand } : undefined;
    }
    case Patterns.NotifyUsers: {
      const { userIds } = raw;
      if (!Array.isArray(userIds) || userIds.length < 1 || userIds.length > MAX_USER_IDS || !userIds.every(isId)) return undefined;
      const command: Fields = { userIds: [...new Set<string>(userIds)] };
      return addBase(raw, command) ? { ok: true, pattern, command: command as NotifyUsersCommand } : undefined;
    }
    case Patterns.NotifyBroadcast: {
      const command: Fields = {};
      return addBase(raw, command) ? { ok: true, pattern, command: command as NotifyBroadcastCommand } : undefined;
    }
  }
}
