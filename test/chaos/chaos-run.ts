import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeraldPublisher } from '@herald/publisher';
import {
  DeliveryLedger,
  HeraldRedis,
  REPO_ROOT,
  ResumingDevice,
  cleanUp,
  describeLoad,
  publishSteadily,
  waitUntil,
  type LedgerRow,
  type NginxAccessRecord,
  type SteadyLoadResult,
} from '@herald/testing';
import type { ChaosTarget, GatewayErrorRecord } from './chaos-target.js';

/** The suite's promise: every device that a fault disconnected has its next session.ready within this long of the fault. */
export const BACK_WITHIN_MS = 5000;

/** An error-level gateway log line a fault explains: matched on `msg`, with the reason it is expected. */
export interface AllowedError {
  msg: RegExp;
  why: string;
}

export interface FaultContext {
  target: ChaosTarget;
  /** The target's Redis, to look at (the ingest lease holder...). */
  redis: HeraldRedis;
  devices: readonly ResumingDevice[];
  /** Records the start of one action of the fault (a restart of one gateway...): devices it disconnects are timed from it. */
  mark: (what: string) => void;
}

export interface Fault {
  id: string;
  title: string;
  /** Gateway error lines this fault explains (anything else at level >= 50 fails the fault). */
  allowedErrors: readonly AllowedError[];
  /** Publishes may be refused while the fault lasts (Redis down): they are not expected of anyone. */
  publishesMayFail?: boolean;
  run(context: FaultContext): Promise<void>;
}

export interface FaultResult {
  target: string;
  fault: string;
  title: string;
  devices: number;
  /** Devices the fault disconnected at least once. */
  affected: number;
  backP50s: number | null;
  backP99s: number | null;
  backMaxs: number | null;
  /** Affected devices with no session.ready after their disconnect, or one later than BACK_WITHIN_MS. */
  notBackInTime: string[];
  published: number;
  accepted: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  misdelivered: number;
  noLiveUpstreams: number;
  /** Socket.IO requests answered 502/504 to the client. */
  badGateway: number;
  allowedErrors: Record<string, number>;
  unexplainedErrors: string[];
  steps: string[];
  durationS: number;
  /** From the end of the load until every device had every accepted notification (or the 45-s limit). */
  settleS: number;
  failures: string[];
}

export interface ChaosLoad {
  devices: number;
  ratePerSecond: number;
}

const percentile = (sorted: readonly number[], p: number): number | null =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/**
 * Per device, for every disconnect in the fault's window: the time from the start of the fault action before it
 * (a restart, a kill...) to the device's next session.ready. A device's figure is its worst disconnect; Infinity when
 * it never got a session.ready again.
 */
export function timesBack(devices: readonly ResumingDevice[], marks: readonly number[], from: number, to: number): Map<ResumingDevice, number> {
  const result = new Map<ResumingDevice, number>();
  for (const device of devices) {
    let worst = -1;
    for (const at of device.disconnectTimes) {
      if (at < from || at > to) continue;
      const cause = [...marks].reverse().find((mark) => mark <= at) ?? from;
      const ready = device.readyTimes.find((time) => time >= at);
      worst = Math.max(worst, ready === undefined ? Number.POSITIVE_INFINITY : ready - cause);
    }
    if (worst >= 0) result.set(device, worst);
  }
  return result;
}

/** Connects `count` resuming devices through nginx, two per user, in batches, and waits for each one's session.ready. */
export async function connectDevices(target: ChaosTarget, count: number, prefix: string): Promise<ResumingDevice[]> {
  const devices: ResumingDevice[] = [];
  const users = Math.max(1, Math.floor(count / 2));
  try {
    for (let batch = 0; batch < count; batch += 50) {
      const connected = await Promise.all(
        Array.from({ length: Math.min(50, count - batch) }, (_, offset) => {
          const n = batch + offset;
          return ResumingDevice.connect(target.url, `${prefix}-${n % users}`, {
            name: `${prefix}-${n % users}/${Math.floor(n / users)}`,
            socket: target.deviceSocket(n),
          });
        }),
      );
      devices.push(...connected);
    }
  } catch (error) {
    for (const device of devices) device.close();
    throw error;
  }
  return devices;
}

/**
 * One fault under steady load: the ledger tracks every device from the start, the load runs 1 s before the fault and
 * 1.5 s after every device is connected again, then waits for every accepted notification to arrive.
 */
export async function runFault(
  target: ChaosTarget,
  fault: Fault,
  devices: readonly ResumingDevice[],
  load: ChaosLoad,
  log: (line: string) => void,
): Promise<FaultResult> {
  const sdk = new HeraldPublisher({ redisUrl: target.redisUrl });
  const redis = await HeraldRedis.connect(target.redisUrl);
  await sdk.connect();
  try {
    const ledger = new DeliveryLedger();
    for (const device of devices) ledger.track(device);
    const users = [...new Set(devices.map((device) => device.userId))];
    const nginxErrorsBefore = (await target.nginxErrors()).length;
    const accessBefore = (await target.nginxAccess()).length;
    const errorsBefore = new Set((await target.gatewayErrors()).map((record) => JSON.stringify(record.record)));
    const marks: number[] = [];
    const steps: string[] = [];
    const started = Date.now();
    const failures: string[] = [];

    let stop = false;
    const loadDone: Promise<SteadyLoadResult> = publishSteadily(sdk, {
      users,
      ratePerSecond: load.ratePerSecond,
      count: load.ratePerSecond * 240,
      maxDurationMs: 240_000,
      until: () => stop,
      type: 'chaos',
      idPrefix: `chaos-${target.name}-${fault.id}-${started}`,
      ledger,
    });
    let faultEnded = started;
    try {
      await waitUntil(() => ledger.acceptedCount >= load.ratePerSecond, '1 s of load before the fault', 30_000);
      const context: FaultContext = {
        target,
        redis,
        devices,
        mark: (what) => {
          marks.push(Date.now());
          steps.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
          log(`  ${fault.id}: ${what}`);
        },
      };
      await fault.run(context);
      faultEnded = Date.now();
      await waitUntil(() => devices.every((device) => device.connected), 'every device connected again', 60_000, 50).catch((error: unknown) => {
        failures.push(`${error instanceof Error ? error.message : String(error)}: ${devices.filter((device) => !device.connected).length} not connected`);
      });
      const resumeAt = ledger.acceptedCount;
      await waitUntil(() => ledger.acceptedCount >= resumeAt + load.ratePerSecond * 1.5, '1.5 s of load after the fault', 30_000);
    } finally {
      stop = true;
    }
    const published = await loadDone;
    log(`  ${fault.id}: load ${describeLoad(published)}`);
    if (!fault.publishesMayFail && published.rejected + published.unsettled > 0) failures.push(`publishes refused: ${describeLoad(published)}`);
    if (published.accepted === 0) failures.push('no publish accepted: the ledger proves nothing');
    // 45 s: after a kill -9, the commands the dead instance had read are claimed by another after INGEST_CLAIM_IDLE_MS (30 s in compose).
    const settleStarted = Date.now();
    await waitUntil(() => ledger.complete(), 'every device to receive every accepted notification', 45_000).catch(() => undefined);
    const ended = Date.now();

    const order = new Map(await Promise.all(users.map(async (user) => [user, await redis.feedIds(user)] as const)));
    const rows: LedgerRow[] = ledger.rows(order);
    const sum = (key: 'lost' | 'duplicated' | 'outOfOrder' | 'misdelivered'): number => rows.reduce((total, row) => total + row[key], 0);
    if (sum('lost') + sum('duplicated') + sum('outOfOrder') + sum('misdelivered') > 0) failures.push(`ledger not clean:\n${DeliveryLedger.table(rows)}`);

    const back = timesBack(devices, marks, started, ended);
    const sorted = [...back.values()].sort((a, b) => a - b);
    const notBackInTime = [...back.entries()]
      .filter(([, ms]) => ms > BACK_WITHIN_MS)
      .map(
        ([device, ms]) =>
          `${device.name}: ${Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'never'} (connect errors ${JSON.stringify(device.connectErrors.slice(-3))})`,
      );
    if (notBackInTime.length > 0)
      failures.push(`${notBackInTime.length} device(s) not back within ${BACK_WITHIN_MS / 1000} s, e.g. ${notBackInTime.slice(0, 5).join('; ')}`);

    const nginxErrors = (await target.nginxErrors()).slice(nginxErrorsBefore);
    const noLiveUpstreams = nginxErrors.filter((line) => line.includes('no live upstreams')).length;
    if (noLiveUpstreams > 0) failures.push(`nginx logged "no live upstreams" ${noLiveUpstreams} times: an instance was marked out`);
    const access: NginxAccessRecord[] = (await target.nginxAccess()).slice(accessBefore);
    const badGateway = access.filter((record) => record.request.includes('/socket.io/') && (record.status === '502' || record.status === '504')).length;
    if (badGateway > 0) failures.push(`${badGateway} Socket.IO request(s) answered 502/504 while healthy gateways existed`);

    const newErrors: GatewayErrorRecord[] = (await target.gatewayErrors()).filter((record) => !errorsBefore.has(JSON.stringify(record.record)));
    const allowed: Record<string, number> = {};
    const unexplained: string[] = [];
    for (const record of newErrors) {
      const rule = fault.allowedErrors.find((entry) => entry.msg.test(record.msg));
      if (rule) allowed[record.msg] = (allowed[record.msg] ?? 0) + 1;
      else unexplained.push(`${record.instance}: ${JSON.stringify(record.record).slice(0, 400)}`);
    }
    if (unexplained.length > 0)
      failures.push(`${unexplained.length} error-level gateway log line(s) the fault does not explain, e.g.\n${unexplained.slice(0, 5).join('\n')}`);

    return {
      target: target.name,
      fault: fault.id,
      title: fault.title,
      devices: devices.length,
      affected: back.size,
      backP50s: seconds(percentile(sorted, 50)),
      backP99s: seconds(percentile(sorted, 99)),
      backMaxs: seconds(sorted.at(-1) ?? null),
      notBackInTime,
      published: published.attempted,
      accepted: published.accepted,
      lost: sum('lost'),
      duplicated: sum('duplicated'),
      outOfOrder: sum('outOfOrder'),
      misdelivered: sum('misdelivered'),
      noLiveUpstreams,
      badGateway,
      allowedErrors: allowed,
      unexplainedErrors: unexplained.slice(0, 20),
      steps,
      durationS: Math.round((faultEnded - started) / 100) / 10,
      settleS: Math.round((ended - settleStarted) / 100) / 10,
      failures,
    };
  } finally {
    await cleanUp(sdk, redis);
  }
}

const seconds = (ms: number | null): number | null => (ms === null ? null : Number.isFinite(ms) ? Math.round(ms / 10) / 100 : Number.POSITIVE_INFINITY);
const cell = (value: number | null): string => (value === null ? '–' : Number.isFinite(value) ? value.toFixed(2) : 'never');

/** The table the suite prints and writes: one row per fault. */
export function faultTable(results: readonly FaultResult[]): string {
  const header = [
    'target',
    'fault',
    'devices',
    'disconnected',
    'back p50 s',
    'back p99 s',
    'back max s',
    'accepted',
    'all delivered s after load',
    'lost',
    'duplicated',
    'no live upstreams',
    '502/504',
    'errors allowed',
    'unexplained',
    'verdict',
  ];
  const lines = results.map((result) => [
    result.target,
    result.fault,
    String(result.devices),
    String(result.affected),
    cell(result.backP50s),
    cell(result.backP99s),
    cell(result.backMaxs),
    String(result.accepted),
    result.settleS.toFixed(1),
    String(result.lost),
    String(result.duplicated),
    String(result.noLiveUpstreams),
    String(result.badGateway),
    String(Object.values(result.allowedErrors).reduce((a, b) => a + b, 0)),
    String(result.unexplainedErrors.length),
    result.failures.length === 0 ? 'pass' : 'FAIL',
  ]);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...lines.map((line) => `| ${line.join(' | ')} |`)].join('\n');
}

export const ARTIFACT_DIR = join(REPO_ROOT, '.tmp/artifacts/chaos');

/** Writes `<name>.md` (the table, each fault's steps and failures) and `<name>.json` under .tmp/artifacts/chaos/. */
export function writeArtifacts(name: string, results: readonly FaultResult[], load: ChaosLoad): string {
  mkdirSync(ARTIFACT_DIR, { recursive: true });
  const details = results.flatMap((result) => [
    '',
    `### ${result.target}: ${result.title}`,
    '',
    ...result.steps.map((step) => `- ${step}`),
    `- allowed error lines: ${JSON.stringify(result.allowedErrors)}`,
    ...result.failures.map((failure) => `- **FAIL**: ${failure.replace(/\n/g, '\n  ')}`),
  ]);
  const markdown = [
    `# Chaos suite: ${name}`,
    '',
    `${new Date().toISOString()}; ${load.devices} devices (2 per user) through nginx, ${load.ratePerSecond} notifications/s during every fault.`,
    `"back" = per disconnected device, seconds from the fault action to its next session.ready (must be ≤ ${BACK_WITHIN_MS / 1000} s).`,
    '',
    faultTable(results),
    ...details,
    '',
  ].join('\n');
  writeFileSync(join(ARTIFACT_DIR, `${name}.md`), markdown);
  writeFileSync(
    join(ARTIFACT_DIR, `${name}.json`),
    `${JSON.stringify({ load, results }, (_key, value: unknown) => (value === Number.POSITIVE_INFINITY ? 'never' : value), 2)}\n`,
  );
  return markdown;
}
