import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyShape, parseRedisInfo, redisRunFigures, storageFigures } from './redis-info.js';

const info = (usedMemory: number, sys: number, user: number, commands: string): string =>
  [
    '# Memory',
    `used_memory:${usedMemory}`,
    'used_memory_human:1.00M',
    `used_memory_peak:${usedMemory * 2}`,
    '',
    '# CPU',
    `used_cpu_sys:${sys}`,
    `used_cpu_user:${user}`,
    '',
    '# Commandstats',
    commands,
  ].join('\r\n');

describe('Redis INFO figures', () => {
  it('parses memory, process CPU and per-command stats', () => {
    const sample = parseRedisInfo(info(1_000_000, 1.5, 2.25, 'cmdstat_xadd:calls=10,usec=150,usec_per_call=15.00,rejected_calls=0,failed_calls=0'));
    assert.deepEqual(sample, { usedMemory: 1_000_000, usedMemoryPeak: 2_000_000, cpuSeconds: 3.75, commands: { xadd: { calls: 10, usec: 150 } } });
  });

  it('gives a run per notification, commands by time, without the harness INFO calls', () => {
    const before = parseRedisInfo(info(1_000_000, 1, 1, 'cmdstat_evalsha:calls=100,usec=2000\r\ncmdstat_info:calls=3,usec=90'));
    const after = parseRedisInfo(
      info(
        1_400_000,
        1.5,
        1.5,
        'cmdstat_evalsha:calls=1100,usec=32000\r\ncmdstat_xadd:calls=1000,usec=5000\r\ncmdstat_info:calls=4,usec=120\r\ncmdstat_ping:calls=2,usec=1',
      ),
    );
    const figures = redisRunFigures(before, after, 1000);
    assert.equal(figures.cpuSeconds, 1);
    assert.equal(figures.cpuUsPerNotification, 1000);
    assert.equal(figures.usedMemoryDeltaBytes, 400_000);
    assert.equal(figures.memoryBytesPerNotification, 400);
    assert.equal(figures.usedMemoryPeakBytes, 2_800_000);
    assert.deepEqual(
      figures.commands.map((command) => [command.command, command.calls, command.usPerNotification]),
      [
        ['evalsha', 1000, 30],
        ['xadd', 1000, 5],
        ['ping', 2, 0.001],
      ],
    );
  });

  it('folds keys by shape and divides what is kept by the stream entries', () => {
    assert.equal(keyShape('herald:{u:bench-user-17}:log'), 'herald:{u:*}:log');
    assert.equal(keyShape('sio:session:Zx8'), 'sio:session:*');
    assert.equal(keyShape('socket.io'), 'socket.io');
    const figures = storageFigures(5_000_000, [
      { key: 'herald:{u:a}:log', bytes: 5000, entries: 10 },
      { key: 'herald:{u:b}:log', bytes: 3000, entries: 6 },
      { key: 'herald:{u:a}:ids', bytes: 1000, entries: 0 },
      { key: 'herald:{u:b}:ids', bytes: 600, entries: 0 },
    ]);
    assert.equal(figures.keys, 4);
    assert.equal(figures.keyBytes, 9600);
    assert.equal(figures.streamEntries, 16);
    assert.equal(figures.bytesPerStreamEntry, 600);
    assert.deepEqual(figures.byShape, [
      { shape: 'herald:{u:*}:log', keys: 2, bytes: 8000, entries: 16 },
      { shape: 'herald:{u:*}:ids', keys: 2, bytes: 1600, entries: 0 },
    ]);
    assert.equal(storageFigures(0, []).bytesPerStreamEntry, undefined);
  });
});
