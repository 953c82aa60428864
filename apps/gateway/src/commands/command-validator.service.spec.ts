import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandRejectReasons, MAX_USER_IDS, Patterns } from '@herald/contracts';
import { loadConfig } from '../config/app-config.js';
import { MalformedCommand } from '../transport/command.deserializer.js';
import { CommandValidatorService } from './command-validator.service.js';

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
      assert.equal(result.ok, false);
      assert.ok(!result.ok && result.reason === CommandRejectReasons.InvalidShape && result.detail.length > 0);
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
