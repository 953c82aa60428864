import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layoutDevices, splitAmongWorkers, userIndexForSeq } from './workload.js';

describe('workload layout', () => {
  it('puts the devices of one user on different instances and balances instances', () => {
    const devices = layoutDevices(8, 4, ['http://a', 'http://b']);
    for (let user = 0; user < 4; user++) {
      const own = devices.filter((device) => device.userIndex === user);
      assert.equal(own.length, 2);
      assert.notEqual(own[0].instanceIndex, own[1].instanceIndex);
    }
    assert.equal(devices.filter((device) => device.url === 'http://a').length, 4);
  });

  it('targets users round robin and spreads devices over workers', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((seq) => userIndexForSeq(seq, 3)),
      [0, 1, 2, 0, 1],
    );
    assert.deepEqual(splitAmongWorkers([1, 2, 3, 4, 5], 2), [
      [1, 3, 5],
      [2, 4],
    ]);
  });
});
