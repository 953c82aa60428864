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

  it('lets a burst through at once, refuses what follows, and ends a client that keeps sending one more burst', () => {
    const limits = limiter('10', '3');
    const bucket = limits.bucket(0);
    const verdicts = Array.from({ length: 7 }, () => limits.take(bucket, 0));
    assert.deepEqual(verdicts, ['allow', 'allow', 'allow', 'limit', 'limit', 'exceeded', 'exceeded']);
    // Twice the rate is refused half the time, never ended: refusals alone bound what it costs.
    const halved = limiter('10', '3');
    const steady = halved.bucket(0);
    for (let index = 0; index < 3; index++) halved.take(steady, 0);
    const verdictsAtTwice = Array.from({ length: 100 }, (_, index) => halved.take(steady, (index + 1) * 50));
    assert.ok(!verdictsAtTwice.includes('exceeded'));
    assert.equal(verdictsAtTwice.filter((verdict) => verdict === 'allow').length, 50);
  });

  it('a client that backs off when refused is allowed again as tokens come back', () => {
    const limits = limiter('10', '3');
    const bucket = limits.bucket(0);
    for (let index = 0; index < 4; index++) limits.take(bucket, 0);
    assert.equal(limits.take(bucket, 50), 'limit', 'half a token after 50 ms at 10/s');
    assert.equal(limits.take(bucket, 100), 'allow');
  });

  it('sustains the average rate forever and never stores more than the burst', () => {
    const limits = limiter('10', '5');
    const bucket = limits.bucket(0);
    let now = 10_000;
    const first = Array.from({ length: 6 }, () => limits.take(bucket, now));
    assert.deepEqual(
      first.slice(0, 5),
      Array.from({ length: 5 }, () => 'allow'),
      'a long idle refills to the burst...',
    );
    assert.equal(first[5], 'limit', '...and no further');
    // One packet every 100 ms after that: every one allowed.
    const steady = Array.from({ length: 100 }, () => limits.take(bucket, (now += 100)));
    assert.ok(steady.every((verdict) => verdict === 'allow'));
  });

  it('a clock that goes backwards refills nothing', () => {
    const limits = limiter('10', '2');
    const bucket = limits.bucket(1000);
    assert.equal(limits.take(bucket, 1000), 'allow');
    assert.equal(limits.take(bucket, 1000), 'allow');
    assert.equal(limits.take(bucket, 0), 'limit');
  });
});
