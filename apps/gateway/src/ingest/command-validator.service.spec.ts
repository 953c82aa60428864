import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CommandRejectReasons,
  MAX_ID_LENGTH,
  MAX_TYPE_LENGTH,
  MAX_USER_IDS,
  NotifyBroadcastCommandSchema,
  NotifyUserCommandSchema,
  NotifyUsersCommandSchema,
  Patterns,
} from '@herald/contracts';
import { loadConfig } from '../config/app-config.js';
import { MalformedCommand } from './command.deserializer.js';
import { CommandValidatorService } from './command-validator.service.js';
import { fastCheck } from './fast-command-check.js';

const validator = new CommandValidatorService(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', MAX_PAYLOAD_BYTES: '100' }));

describe('CommandValidatorService', () => {
  it('accepts notify.user, applies the default type and strips unknown fields', () => {
    const result = validator.validate(Patterns.NotifyUser, { userId: 'u1', data: { a: 1 }, futureField: true });
    assert.deepEqual(result, { ok: true, pattern: Patterns.NotifyUser, command: { userId: 'u1', type: 'notification', data: { a: 1 } } });
  });

  it('accepts any JSON data, including null and scalars', () => {
    for (const data of [null, 0, 'text', [1], false]) {
      assert.equal(validator.validate(Patterns.NotifyUser, { userId: 'u1', data }).ok, true, JSON.stringify(data));
    }
  });

  it('deduplicates userIds', () => {
    const result = validator.validate(Patterns.NotifyUsers, { userIds: ['a', 'b', 'a'], data: 1 });
    assert.ok(result.ok && result.pattern === Patterns.NotifyUsers);
    assert.deepEqual(result.command.userIds, ['a', 'b']);
  });

  const invalid: Array<[string, Parameters<CommandValidatorService['validate']>[0], unknown]> = [
    ['missing userId', Patterns.NotifyUser, { data: 1 }],
    ['missing data', Patterns.NotifyUser, { userId: 'u1' }],
    ['numeric userId', Patterns.NotifyUser, { userId: 1, data: 1 }],
    ['empty userId', Patterns.NotifyUser, { userId: '', data: 1 }],
    ['empty type', Patterns.NotifyUser, { userId: 'u', type: '', data: 1 }],
    ['non-numeric sentAt', Patterns.NotifyUser, { userId: 'u', data: 1, sentAt: '1' }],
    ['out-of-range sentAt', Patterns.NotifyUser, { userId: 'u', data: 1, sentAt: 1e300 }],
    ['empty userIds', Patterns.NotifyUsers, { userIds: [], data: 1 }],
    ['too many userIds', Patterns.NotifyUsers, { userIds: Array.from({ length: MAX_USER_IDS + 1 }, (_, i) => String(i)), data: 1 }],
    ['a string instead of an object', Patterns.NotifyBroadcast, 'hello'],
    ['an array', Patterns.NotifyBroadcast, [1]],
  ];
  for (const [name, pattern, raw] of invalid) {
    it(`rejects ${name} as invalid_shape with a detail`, () => {
      const result = validator.validate(pattern, raw);
      if (result.ok) assert.fail('accepted');
      assert.equal(result.reason, CommandRejectReasons.InvalidShape);
      assert.ok(result.detail.length > 0);
    });
  }

  it('rejects data larger than MAX_PAYLOAD_BYTES, counting UTF-8 bytes', () => {
    assert.equal(validator.validate(Patterns.NotifyUser, { userId: 'u', data: 'é'.repeat(40) }).ok, true);
    const result = validator.validate(Patterns.NotifyUser, { userId: 'u', data: 'é'.repeat(60) });
    assert.ok(!result.ok && result.reason === CommandRejectReasons.PayloadTooLarge);
  });

  it('passes on the transport-level reason of a malformed message', () => {
    const result = validator.validate(Patterns.NotifyUser, new MalformedCommand(CommandRejectReasons.NotJson, 'nope'));
    assert.deepEqual(result, { ok: false, reason: CommandRejectReasons.NotJson, detail: 'nope' });
  });
});

describe('fastCheck (the hand-checked valid path)', () => {
  const long = (length: number): string => 'x'.repeat(length);
  const pools = {
    userId: [undefined, '', 'u1', long(MAX_ID_LENGTH), long(MAX_ID_LENGTH + 1), 5, null, ['u1']],
    userIds: [
      undefined,
      [],
      ['a'],
      ['a', 'b', 'a'],
      ['a', 5],
      [''],
      'a',
      Array.from({ length: MAX_USER_IDS }, (_, i) => `u${i % 7}`),
      Array.from({ length: MAX_USER_IDS + 1 }, (_, i) => `u${i}`),
    ],
    type: [undefined, '', 't', long(MAX_TYPE_LENGTH), long(MAX_TYPE_LENGTH + 1), 7, null],
    data: [undefined, null, 0, 'text', { a: 1 }, [1], false],
    id: [undefined, '', 'n1', long(MAX_ID_LENGTH + 1), 3, null],
    sentAt: [undefined, 0, -0, -1, 1.5, 8.64e15, 8.64e15 + 2, 1e300, '1', Number.NaN, Number.POSITIVE_INFINITY, null],
    extra: [undefined, { futureField: true }],
  };
  const without = (object: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

  function* commands(target: 'userId' | 'userIds' | undefined): Generator {
    for (const head of target ? pools[target] : [undefined])
      for (const type of pools.type)
        for (const data of pools.data)
          for (const id of pools.id)
            for (const sentAt of pools.sentAt)
              for (const extra of pools.extra) yield without({ ...(target ? { [target]: head } : {}), type, data, id, sentAt, ...extra });
  }
  // Not what JSON.parse makes, except the scalars: the fast path may decline these, never accept them wrongly.
  const odd: unknown[] = [null, 'text', 42, [1], Object.create({ userId: 'inherited', userIds: ['inherited'], data: 1 }) as unknown];

  const cases = [
    [Patterns.NotifyUser, NotifyUserCommandSchema, 'userId'],
    [Patterns.NotifyUsers, NotifyUsersCommandSchema, 'userIds'],
    [Patterns.NotifyBroadcast, NotifyBroadcastCommandSchema, undefined],
  ] as const;

  for (const [pattern, schema, target] of cases) {
    it(`${pattern}: accepts exactly what the zod schema accepts, and returns exactly the schema's output`, () => {
      let accepted = 0;
      for (const raw of commands(target)) {
        const fast = fastCheck(pattern, raw);
        const parsed = schema.safeParse(raw);
        if (fast === undefined) {
          // Declining is always safe; declining a valid JSON command only means it pays for zod.
          assert.equal(parsed.success, false, `fast path declined a valid command: ${JSON.stringify(raw)}`);
          continue;
        }
        accepted++;
        assert.ok(parsed.success, `fast path accepted what zod rejects: ${JSON.stringify(raw)}`);
        assert.deepEqual(fast, { ok: true, pattern, command: parsed.data }, JSON.stringify(raw));
      }
      assert.ok(accepted > 0);
      for (const raw of odd) assert.equal(fastCheck(pattern, raw), undefined, String(raw));
    });
  }

  it('takes the shape publishers send (the SDK and the benchmark) without zod', () => {
    const command = { userId: 'user-7', type: 'bench', id: 'run:1', sentAt: Date.now(), data: { seq: 1, pad: 'x' } };
    assert.deepEqual(fastCheck(Patterns.NotifyUser, command), { ok: true, pattern: Patterns.NotifyUser, command });
    assert.deepEqual(fastCheck(Patterns.NotifyBroadcast, { data: 1 }), { ok: true, pattern: Patterns.NotifyBroadcast, command: { type: 'notification', data: 1 } });
  });

  it('leaves every rejection to zod, so errors keep their reasons and details', () => {
    const result = validator.validate(Patterns.NotifyUser, { userId: 'u', type: '', data: 1 });
    assert.ok(!result.ok && result.reason === CommandRejectReasons.InvalidShape && result.detail.startsWith('type:'), JSON.stringify(result));
  });
});
