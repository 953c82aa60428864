import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/app-config.js';
import { PacketRateLimiter } from './packet-rate-limiter.js';

const limiter = (perSecond: string, burst: string): PacketRateLimiter =>
  new PacketRateLimiter(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', CLIENT_PACKETS_PER_SECOND: perSecond, CLIENT_PACKET_BURST: burst }));

describe('PacketRateLimiter', () => {
  it('defaults to 20/s with bursts of 40', () => {
    const defaults = new PacketRateLimiter(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789' }));
    assert.deepEqual([defaults.perSecond, defaults.burst], [20, 40]);
  });

  it('lets a burst through at once, then refuses until time refills the bucket', () => {
    const limits = limiter('10', '5');
    const bucket = limits.bucket(0);
    const taken = Array.from({ length: 7 }, () => limits.take(bucket, 0));
    assert.deepEqual(taken, [true, true, true, true, true, false, false]);
    assert.equal(limits.take(bucket, 50), false, 'half a token after 50 ms at 10/s');
    assert.equal(limits.take(bucket, 100), true, 'one token after 100 ms');
    assert.equal(limits.take(bucket, 100), false);
  });

  it('sustains the average rate forever and never stores more than the burst', () => {
    const limits = limiter('10', '5');
    const bucket = limits.bucket(0);
    // 10 s idle refills to the burst, not to 100 tokens.
    let now = 10_000;
    let allowed = 0;
    for (let index = 0; index < 100; index++) if (limits.take(bucket, now)) allowed++;
    assert.equal(allowed, 5);
    // Then one packet every 100 ms for 10 s: all allowed; one every 50 ms: about half.
    allowed = 0;
    for (let index = 0; index < 100; index++) if (limits.take(bucket, (now += 100))) allowed++;
    assert.equal(allowed, 100);
    allowed = 0;
    for (let index = 0; index < 200; index++) if (limits.take(bucket, (now += 50))) allowed++;
    assert.ok(allowed >= 100 && allowed <= 101, `${allowed} of 200 at twice the rate`);
  });

  it('a clock that goes backwards refills nothing', () => {
    const limits = limiter('10', '1');
    const bucket = limits.bucket(1000);
    assert.equal(limits.take(bucket, 1000), true);
    assert.equal(limits.take(bucket, 0), false);
  });
});
