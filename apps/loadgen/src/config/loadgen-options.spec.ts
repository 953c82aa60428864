import assert from 'node:assert/strict';
import { DEFAULT_ACK_INTERVAL_MS } from '@herald/client';
import { describe, it } from 'node:test';
import { OptionsError, parseLoadgenOptions } from './loadgen-options.js';

describe('parseLoadgenOptions', () => {
  it('defaults to the sweep that fits a 2-core machine', () => {
    const options = parseLoadgenOptions([]);
    assert.equal(options.mode, 'sweep');
    assert.deepEqual(options.systems, ['herald', 'local', 'streams']);
    assert.equal(options.durationSeconds, 4);
    assert.equal(options.instances, 2);
    assert.equal(options.connections, 2000);
    assert.equal(options.users, 1000);
    assert.ok(options.jwtSecret.length >= 16);
    assert.equal(options.ackIntervalMs, DEFAULT_ACK_INTERVAL_MS, "herald-acks clients acknowledge at the SDK's pace");
    assert.equal(parseLoadgenOptions(['--ack-interval', '1000']).ackIntervalMs, 1000);
    assert.equal(parseLoadgenOptions(['--previous-dir', '/x', '--previous-stream']).previousStream, true);
  });

  it('reads fixed rates, targets and profile mode', () => {
    const fixed = parseLoadgenOptions(['--rates', '100, 200', '--systems', 'baseline', '--duration', '0.5']);
    assert.equal(fixed.mode, 'fixed');
    assert.deepEqual(fixed.rates, [100, 200]);
    assert.deepEqual(fixed.systems, ['baseline']);
    assert.equal(fixed.durationSeconds, 0.5);

    const remote = parseLoadgenOptions([
      '--herald-urls',
      'http://127.0.0.1:3000/,http://localhost:3001',
      '--herald-redis-url',
      'redis://127.0.0.1:7000',
      '--jwt-secret',
      '0123456789abcdef',
    ]);
    assert.deepEqual(remote.remote.herald, { urls: ['http://127.0.0.1:3000', 'http://localhost:3001'], redisUrl: 'redis://127.0.0.1:7000' });

    const chart = parseLoadgenOptions(['--chart', 'bench/results/run.json']);
    assert.equal(chart.mode, 'chart');
    assert.match(chart.chartFrom ?? '', /bench\/results\/run\.json$/);
    assert.throws(() => parseLoadgenOptions(['--chart', 'run.svg']), /chart takes a \.json report/);

    const profile = parseLoadgenOptions(['--profile']);
    assert.equal(profile.mode, 'profile');
    assert.deepEqual(profile.systems, ['herald']);
    assert.deepEqual(profile.rates, [1000]);
  });

  it('reads the storm and scaling modes with their own default rates and durations', () => {
    const storm = parseLoadgenOptions(['--storm', '--storm-kind', 'kill', '--systems', 'herald,streams']);
    assert.equal(storm.mode, 'storm');
    assert.deepEqual(storm.storm, { kind: 'kill', atSeconds: 3 });
    assert.deepEqual(storm.rates, [2000]);
    assert.equal(storm.durationSeconds, 10);
    const scaling = parseLoadgenOptions(['--scaling', '1,4,1,4', '--repeat', '3']);
    assert.equal(scaling.mode, 'scaling');
    assert.deepEqual(scaling.scalingInstances, [1, 4, 1, 4]);
    assert.deepEqual(scaling.rates, [3000]);
    const previous = parseLoadgenOptions(['--systems', 'herald,previous', '--previous-dir', '/tmp/herald-before']);
    assert.equal(previous.previousDir, '/tmp/herald-before');
  });

  it('names every bad flag', () => {
    assert.throws(
      () => parseLoadgenOptions(['--connections', 'lots', '--rates', '5,-1']),
      (error: unknown) => {
        assert.ok(error instanceof OptionsError);
        assert.match(error.message, /--connections: connections must be a number/);
        assert.match(error.message, /--rates: rates must be positive numbers/);
        return true;
      },
    );
    assert.throws(() => parseLoadgenOptions(['--bogus']), /Unknown option '--bogus'/);
    assert.throws(() => parseLoadgenOptions(['--users', '10', '--connections', '5']), /users cannot exceed connections/);
    assert.throws(() => parseLoadgenOptions(['--systems', 'herald,nginx']), /systems must be among herald, herald-acks, local, streams, baseline, previous/);
    assert.throws(() => parseLoadgenOptions(['--systems', 'herald,previous']), /previous system needs --previous-dir/);
    assert.throws(() => parseLoadgenOptions(['--storm', '--scaling', '1,4']), /separate modes/);
    assert.throws(() => parseLoadgenOptions(['--storm', '--duration', '2', '--storm-at', '3']), /storm-at must fall within --duration/);
    assert.throws(() => parseLoadgenOptions(['--scaling', '4']), /two or more instance counts/);
    assert.throws(() => parseLoadgenOptions(['--storm', '--storm-kind', 'reboot']), /storm-kind must be close or kill/);
    assert.throws(() => parseLoadgenOptions(['--heap-snapshots']), /--heap-snapshots works with --profile/);
  });

  it('refuses targets outside loopback unless asked, and remote targets without their Redis and secret', () => {
    const remote = ['--herald-urls', 'http://10.1.2.3:3000', '--herald-redis-url', 'redis://10.1.2.3:6379', '--jwt-secret', '0123456789abcdef'];
    assert.throws(() => parseLoadgenOptions(remote), /10\.1\.2\.3.*not loopback.*--allow-remote/);
    assert.equal(parseLoadgenOptions([...remote, '--allow-remote']).remote.herald?.urls[0], 'http://10.1.2.3:3000');
    assert.throws(() => parseLoadgenOptions(['--herald-urls', 'http://127.0.0.1:3000']), /needs --herald-redis-url/);
    assert.throws(() => parseLoadgenOptions(['--herald-urls', 'http://127.0.0.1:3000', '--herald-redis-url', 'redis://127.0.0.1:1']), /needs --jwt-secret/);
  });
});
