import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliUsageError, DEVELOPMENT_SECRET, parseCli } from './cli-args.js';

describe('parseCli', () => {
  it('parses a notify to one user', () => {
    assert.deepEqual(parseCli(['--user', '42', '--type', 'hello', '--data', '{"text":"hi"}'], {}), {
      kind: 'notify',
      target: { userId: '42' },
      type: 'hello',
      data: { text: 'hi' },
      id: undefined,
      redisUrl: 'redis://127.0.0.1:6379',
    });
  });
  it('splits --users and honours REDIS_URL', () => {
    const command = parseCli(['notify', '--users', 'a, b', '--data', '1'], { REDIS_URL: 'redis://r:1' });
    assert.ok(command.kind === 'notify');
    assert.deepEqual(command.target, { userIds: ['a', 'b'] });
    assert.equal(command.redisUrl, 'redis://r:1');
  });
  it('signs tokens with JWT_SECRET or the development secret', () => {
    assert.deepEqual(parseCli(['token', '--user', '7'], {}), { kind: 'token', userId: '7', ttlSeconds: 3600, secret: DEVELOPMENT_SECRET });
    assert.equal((parseCli(['token', '--user', '7'], { JWT_SECRET: 's' }) as { secret: string }).secret, 's');
  });
  it('rejects ambiguous targets, bad JSON and unknown commands', () => {
    assert.throws(() => parseCli(['--user', '1', '--broadcast'], {}), CliUsageError);
    assert.throws(() => parseCli(['--user', '1', '--data', '{bad'], {}), CliUsageError);
    assert.throws(() => parseCli(['launch'], {}), CliUsageError);
    assert.throws(() => parseCli(['token', '--user', '1', '--ttl', '-5'], {}), CliUsageError);
  });
});
