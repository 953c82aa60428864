import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { diagnoseLines, type ResumingDevice } from '@herald/testing';
import { faultsFor } from './chaos-faults.js';
import { connectDevices, faultTable, runFault, writeArtifacts, type FaultResult } from './chaos-run.js';
import { chaosLoad } from './chaos-settings.js';
import { ProcessesChaosTarget } from './chaos-target.js';

/**
 * The chaos suite on local processes: 3 gateways behind nginx (`upstream`, sticky hash, max_fails=0), redis-server;
 * devices from 60 loopback addresses so they spread over the gateways. Faults in turn on the same devices, each under
 * steady load with its own ledger. Table: .tmp/artifacts/chaos/processes.md.
 */
describe('chaos on processes', () => {
  const load = chaosLoad();
  let target: ProcessesChaosTarget | undefined;
  let devices: ResumingDevice[] = [];
  const results: FaultResult[] = [];

  before(async () => {
    // A killed instance's commands are claimed by another after 1 s (default 30 s): what a short test can wait for.
    target = await ProcessesChaosTarget.start({ LOG_LEVEL: 'info', INGEST_CLAIM_IDLE_MS: '1000' });
    devices = await connectDevices(target, load.devices, 'chaos-p');
  });

  after(async () => {
    for (const device of devices) device.close();
    if (results.length > 0) process.stderr.write(`${writeArtifacts('processes', results, load)}\n`);
    await target?.stop();
  });

  for (const fault of faultsFor('processes')) {
    it(fault.title, async (t) => {
      assert.ok(target, 'the processes did not start');
      const result = await runFault(target, fault, devices, load, (line) => t.diagnostic(line));
      results.push(result);
      diagnoseLines(t, faultTable([result]));
      assert.deepEqual(result.failures, [], `${fault.id} on processes`);
    });
  }
});
