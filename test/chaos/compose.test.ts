import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { diagnoseLines, type ResumingDevice } from '@herald/testing';
import { faultsFor } from './chaos-faults.js';
import { connectDevices, faultTable, runFault, writeArtifacts, type FaultResult } from './chaos-run.js';
import { chaosLoad } from './chaos-settings.js';
import { ComposeChaosTarget } from './chaos-target.js';

/**
 * The chaos suite on `docker compose up` of docker-compose.yml (without Grafana, Redis published on 127.0.0.1:16379
 * for the SDK: docker/compose.chaos.yml), nginx resolving gateway names per request. Through docker-proxy nginx sees
 * one client address, so every device is on one gateway: the one a kill -9 hits. Table: .tmp/artifacts/chaos/compose.md.
 */
describe('chaos on the docker compose stack', () => {
  const load = chaosLoad();
  let target: ComposeChaosTarget | undefined;
  let devices: ResumingDevice[] = [];
  const results: FaultResult[] = [];

  before(async () => {
    // The compose file as shipped (INGEST_CLAIM_IDLE_MS 30 s: a killed instance's commands wait that long).
    target = await ComposeChaosTarget.start();
    devices = await connectDevices(target, load.devices, 'chaos-c');
  });

  after(async () => {
    for (const device of devices) device.close();
    if (results.length > 0) process.stderr.write(`${writeArtifacts('compose', results, load)}\n`);
    await target?.stop();
  });

  for (const fault of faultsFor('compose')) {
    it(fault.title, async (t) => {
      assert.ok(target, 'the processes did not start');
      const result = await runFault(target, fault, devices, load, (line) => t.diagnostic(line));
      results.push(result);
      diagnoseLines(t, faultTable([result]));
      assert.deepEqual(result.failures, [], `${fault.id} on compose`);
    });
  }
});
