import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameName, packageOf, summarizeCpuProfile, summarizeHeapProfile, type CallFrame, type CpuProfile, type HeapProfile } from './profile-summary.js';

const frame = (functionName: string, url = '', lineNumber = 0): CallFrame => ({ functionName, url, lineNumber, columnNumber: 0 });
const GATEWAY = 'file:///repo/dist/apps/gateway/src/delivery/delivery.service.js';
const ZOD = 'file:///repo/node_modules/zod/v4/core/schemas.js';

// root -> outer (gateway) -> inner (zod); root -> (idle); root -> (garbage collector)
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
    { id: 2, callFrame: frame('outer', GATEWAY, 9), children: [3] },
    { id: 3, callFrame: frame('inner', ZOD, 33) },
    { id: 4, callFrame: frame('(idle)') },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  startTime: 1_000,
  endTime: 1_610,
  // Each sample stands for the time until the next: 100 us each, the last one none.
  samples: [3, 3, 2, 4, 5, 4],
  timeDeltas: [10, 100, 100, 100, 100, 100],
};

describe('summarizeCpuProfile', () => {
  it('splits busy, idle and GC time and attributes self and inclusive time', () => {
    const summary = summarizeCpuProfile(profile, undefined, 10, ['outer', 'missing']);
    assert.equal(summary.windowMs, 0.5);
    assert.equal(summary.idleMs, 0.1);
    assert.equal(summary.busyMs, 0.4);
    assert.equal(summary.gcMs, 0.1);
    assert.deepEqual(
      summary.topSelf.map((entry) => [entry.name, entry.value]),
      [
        ['inner zod/v4/core/schemas.js:34', 0.2],
        ['outer dist/apps/gateway/src/delivery/delivery.service.js:10', 0.1],
        ['(garbage collector)', 0.1],
      ],
    );
    assert.equal(summary.topInclusive[0].name, 'outer dist/apps/gateway/src/delivery/delivery.service.js:10');
    assert.equal(summary.topInclusive[0].value, 0.3);
    assert.equal(summary.topInclusive[0].share, 0.75);
    assert.deepEqual(
      summary.byPackage.map((entry) => entry.name),
      ['zod', 'herald gateway', '(garbage collector)'],
    );
    assert.deepEqual(
      summary.focus.map((entry) => [entry.name, entry.value]),
      [
        ['outer', 0.3],
        ['missing', 0],
      ],
    );
  });

  it('keeps only the samples inside the window', () => {
    // Samples at 1010, 1110, 1210, ...: the window keeps 1110 and 1210.
    const summary = summarizeCpuProfile(profile, { startUs: 1_100, endUs: 1_250 });
    assert.equal(summary.busyMs, 0.2);
    assert.deepEqual(
      summary.topSelf.map((entry) => entry.name),
      ['inner zod/v4/core/schemas.js:34', 'outer dist/apps/gateway/src/delivery/delivery.service.js:10'],
    );
  });
});

describe('summarizeHeapProfile', () => {
  it('adds up bytes per function and package over the whole tree', () => {
    const leaf = { callFrame: frame('alloc', ZOD, 1), selfSize: 100, id: 3, children: [] };
    const heap: HeapProfile = {
      head: {
        callFrame: frame('(root)'),
        selfSize: 0,
        id: 1,
        children: [leaf, { callFrame: frame('handle', GATEWAY, 5), selfSize: 300, id: 2, children: [{ ...leaf, id: 4 }] }],
      },
    };
    const summary = summarizeHeapProfile(heap);
    assert.equal(summary.totalBytes, 500);
    assert.deepEqual(
      summary.topSelf.map((entry) => [entry.name, entry.value]),
      [
        ['handle dist/apps/gateway/src/delivery/delivery.service.js:6', 300],
        ['alloc zod/v4/core/schemas.js:2', 200],
      ],
    );
    assert.deepEqual(
      summary.byPackage.map((entry) => entry.name),
      ['herald gateway', 'zod'],
    );
  });
});

describe('frame naming', () => {
  it('names packages, scoped packages, node core and natives', () => {
    assert.equal(packageOf(frame('x', 'file:///r/node_modules/@nestjs/microservices/server/server.js')), '@nestjs/microservices');
    assert.equal(packageOf(frame('x', 'file:///r/node_modules/a/node_modules/debug/src/common.js')), 'debug');
    assert.equal(packageOf(frame('writev', 'node:internal/stream_base_commons')), 'node core');
    assert.equal(packageOf(frame('stringify')), '(v8 builtins and natives)');
    assert.equal(frameName(frame('stringify')), 'stringify [native]');
    assert.equal(frameName(frame('', ZOD, 0)), '(anonymous) zod/v4/core/schemas.js:1');
  });
});
