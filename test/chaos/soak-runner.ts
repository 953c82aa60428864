// `npm run soak [-- --minutes 10 --connections 2000 --rate 100 --churn-percent 5]`: a long steady run on local
// processes (3 gateways, redis-server), not in CI. Reports each instance's RSS and heap slope (least squares over the
// samples after the warm-up, MB/min) with a verdict, and the ledger (0 lost, 0 duplicated). Decisions: docs/testing.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { INGEST_LEASE_KEY } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  DeliveryLedger,
  HeraldRedis,
  MetricsSnapshot,
  ProcessesTopology,
  REPO_ROOT,
  ResumingDevice,
  cleanUp,
  describeLoad,
  publishSteadily,
  waitUntil,
  type SteadyLoadResult,
} from '@herald/testing';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    connections: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '100' },
    'churn-percent': { type: 'string', default: '5' },
    'sample-seconds': { type: 'string', default: '5' },
    /** Recomputes the memory table from a saved run's soak.json (its samples) instead of running. */
    from: { type: 'string' },
    /** With --from: only the samples of the run's first N minutes (what a shorter run would have judged). */
    'first-minutes': { type: 'string' },
  },
});

function positive(name: string, raw: string, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    process.stderr.write(`soak: --${name} must be a number in (0, ${max}], got ${JSON.stringify(raw)}\n`);
    process.exit(64);
  }
  return value;
}

// Bounds keep every loop finite: at most 2 hours, 5,000 connections, 2,000 notifications/s.
const MINUTES = positive('minutes', values.minutes, 120);
const CONNECTIONS = Math.round(positive('connections', values.connections, 5000));
const RATE = positive('rate', values.rate, 2000);
const CHURN_PERCENT = positive('churn-percent', values['churn-percent'], 100);
const SAMPLE_MS = positive('sample-seconds', values['sample-seconds'], 60) * 1000;
/** Samples before this are not in the slope: connecting, JIT, the allocator and heap growing to their working size. */
const WARMUP_MS = Math.min(60_000, (MINUTES * 60_000) / 5);
/**
 * Flat within noise: |slope| ≤ 1 MB/min. 1 MB/min is 1.4 GB a day, enough to exhaust any instance's memory budget
 * within a day, so anything above must be reported as growth; below it, a 10-minute run drifts ≤ 10 MB, the size of the
 * heap's own GC sawtooth at this load, which a run this short cannot tell from a leak.
 */
const FLAT_MB_PER_MIN = 1;
/** Windows of the floor series (windowFloors): a tenth of the run, at most a minute. */
const FLOOR_WINDOW_MS = Math.min(60_000, (MINUTES * 60_000) / 10);
/** A churned device stays away this long (uniform), then resumes with its cursor. */
const OFFLINE_MS = [1000, 5000] as const;

const say = (message: string): void => void process.stderr.write(`[soak] ${message}\n`);
const MB = 1024 * 1024;

interface Sample {
  instance: string;
  atMs: number;
  rssMb: number;
  heapMb: number;
  /** V8's committed heap: RSS follows it when V8 grows or hands back pages (absent in runs saved before it was sampled). */
  heapTotalMb?: number;
  sockets: number;
  /** Whether this instance held the command stream lease (the one ingest reader) when sampled. */
  reader?: boolean;
}

/**
 * The lowest and the highest sample of each window of FLOOR_WINDOW_MS (heap and RSS separately, at the window's
 * middle). The floor is the heap right after a collection: a leak raises it; the GC sawtooth above it (tens of MB at
 * this load, a period of a minute or two) does not, and would otherwise dominate a regression over a few minutes. The
 * ceiling is what RSS needs too: V8 hands heap pages back and takes them again, so an RSS floor can rise while the
 * whole band narrows (the ingest reader's first minutes: floors 134 → 238 MB under ceilings 276 → 238 MB). A leak
 * raises both.
 */
function windowBands(samples: readonly Sample[]): { floors: Sample[]; ceilings: Sample[] } {
  const windows = new Map<number, Sample[]>();
  for (const s of samples) {
    const key = Math.floor(s.atMs / FLOOR_WINDOW_MS);
    const list = windows.get(key) ?? [];
    list.push(s);
    windows.set(key, list);
  }
  const full = [...windows.entries()].filter(([, list]) => list.length >= 3);
  const band = (pick: (...values: number[]) => number): Sample[] =>
    full.map(([key, list]) => ({
      instance: list[0].instance,
      atMs: (key + 0.5) * FLOOR_WINDOW_MS,
      rssMb: pick(...list.map((s) => s.rssMb)),
      heapMb: pick(...list.map((s) => s.heapMb)),
      sockets: list[0].sockets,
    }));
  return { floors: band(Math.min), ceilings: band(Math.max) };
}

/** Least squares y = a + b x; b with its standard error. */
export function regression(points: ReadonlyArray<readonly [number, number]>): { slope: number; stderr: number } {
  const n = points.length;
  if (n < 3) return { slope: Number.NaN, stderr: Number.NaN };
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const slope = sxy / sxx;
  const residual = points.reduce((sum, [x, y]) => sum + (y - (my + slope * (x - mx))) ** 2, 0);
  return { slope, stderr: Math.sqrt(residual / (n - 2) / sxx) };
}

/** A deterministic generator (mulberry32) so a run's churn can be repeated. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VERDICT_RULE =
  `Verdict on two signals, the heap's floor slope and RSS's band (its floor and its ceiling slope; RSS grows only when both do): ` +
  `"GROWING" (fails the run) when a signal is above +${FLAT_MB_PER_MIN} MB/min with its 95 % interval excluding 0; ` +
  `"noisy, no significant growth" when a signal is above +${FLAT_MB_PER_MIN} but its interval includes 0; ` +
  `"shrinking" when a signal is below -${FLAT_MB_PER_MIN} with its interval excluding 0 (for RSS: floor and ceiling) and none grows; ` +
  `otherwise "flat within noise".`;

type Fit = { slope: number; stderr: number };

/** Each signal is one or more fits that must all rise for it to count as growth. */
function verdictOf(signals: ReadonlyArray<readonly Fit[]>): string {
  const rising = (fit: Fit): boolean => fit.slope > FLAT_MB_PER_MIN;
  const significant = (fit: Fit): boolean => rising(fit) && fit.slope - 1.96 * fit.stderr > 0;
  if (signals.some((fits) => fits.every(significant))) return 'GROWING';
  if (signals.some((fits) => fits.every(rising))) return 'noisy, no significant growth';
  const falling = (fit: Fit): boolean => fit.slope < -FLAT_MB_PER_MIN && fit.slope + 1.96 * fit.stderr < 0;
  if (signals.some((fits) => fits.every(falling))) return 'shrinking';
  return 'flat within noise';
}

/** Per instance: slopes over all samples after the warm-up, over their floors, and over the floors of the second half. */
function memoryReport(samples: readonly Sample[], instances: readonly string[]): { slopes: Array<Record<string, unknown> & { verdict: string }>; table: string } {
  const minutes = (s: Sample): number => s.atMs / 60_000;
  const fit = (points: readonly Sample[], key: 'rssMb' | 'heapMb'): Fit => regression(points.map((s) => [minutes(s), s[key]] as const));
  const slopes = instances.map((instance) => {
    const mine = samples.filter((s) => s.instance === instance && s.atMs >= WARMUP_MS);
    const { floors, ceilings } = windowBands(mine);
    const half = floors.filter((s) => s.atMs >= (mine.at(-1)?.atMs ?? 0) / 2);
    const rssFloor = fit(floors, 'rssMb');
    const rssCeiling = fit(ceilings, 'rssMb');
    const heapFloor = fit(floors, 'heapMb');
    const verdict = verdictOf([[heapFloor], [rssFloor, rssCeiling]]);
    const readerShare = mine.filter((s) => s.reader === true).length / Math.max(1, mine.length);
    return {
      instance: readerShare > 0.5 ? `${instance} (ingest reader)` : instance,
      samples: mine.length,
      first: mine.at(0),
      last: mine.at(-1),
      rssPeakMb: Math.max(...mine.map((s) => s.rssMb)),
      heapPeakMb: Math.max(...mine.map((s) => s.heapMb)),
      rss: fit(mine, 'rssMb'),
      heap: fit(mine, 'heapMb'),
      rssFloor,
      rssCeiling,
      heapFloor,
      rssFloorSecondHalf: fit(half, 'rssMb'),
      heapFloorSecondHalf: fit(half, 'heapMb'),
      verdict,
    };
  });
  const fmt = (r: Fit): string => (Number.isNaN(r.slope) ? '–' : `${r.slope >= 0 ? '+' : ''}${r.slope.toFixed(2)} ± ${(1.96 * r.stderr).toFixed(2)}`);
  const mb = (value: number | undefined): string => (value === undefined ? '?' : value.toFixed(0));
  const table = [
    '| instance | samples | RSS first → last (peak) MB | RSS slope, all | RSS floor slope | RSS ceiling slope | RSS floor slope, 2nd half | heap first → last (peak) MB | heap slope, all | heap floor slope | heap floor slope, 2nd half | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...slopes.map(
      (s) =>
        `| ${s.instance} | ${s.samples} | ${mb(s.first?.rssMb)} → ${mb(s.last?.rssMb)} (${mb(s.rssPeakMb)}) | ${fmt(s.rss)} | ${fmt(s.rssFloor)} | ${fmt(s.rssCeiling)} | ${fmt(s.rssFloorSecondHalf)} | ` +
        `${mb(s.first?.heapMb)} → ${mb(s.last?.heapMb)} (${mb(s.heapPeakMb)}) | ${fmt(s.heap)} | ${fmt(s.heapFloor)} | ${fmt(s.heapFloorSecondHalf)} | ${s.verdict} |`,
    ),
  ].join('\n');
  return { slopes, table };
}

async function main(): Promise<number> {
  const durationMs = MINUTES * 60_000;
  say(`${CONNECTIONS} connections, ${RATE} notifications/s, ${CHURN_PERCENT} % of connections churned a minute, ${MINUTES} min`);
  const topology = await ProcessesTopology.start({ gateways: 3, gatewayEnv: { LOG_LEVEL: 'warn' } });
  const sdk = new HeraldPublisher({ redisUrl: topology.redis.url });
  const devices: ResumingDevice[] = [];
  let redis: HeraldRedis | undefined;
  try {
    await sdk.connect();
    redis = await HeraldRedis.connect(topology.redis.url);
    const users = Array.from({ length: Math.max(1, Math.floor(CONNECTIONS / 2)) }, (_, n) => `soak-${n}`);
    const connectStarted = Date.now();
    for (let batch = 0; batch < CONNECTIONS; batch += 100) {
      const connected = await Promise.all(
        Array.from({ length: Math.min(100, CONNECTIONS - batch) }, (_, offset) => {
          const n = batch + offset;
          return ResumingDevice.connect(topology.at(n).url, users[n % users.length], { name: `soak-${n % users.length}/${Math.floor(n / users.length)}` });
        }),
      );
      devices.push(...connected);
    }
    say(`${devices.length} devices connected in ${((Date.now() - connectStarted) / 1000).toFixed(1)} s`);
    const ledger = new DeliveryLedger();
    for (const device of devices) ledger.track(device);

    const started = Date.now();
    const endAt = started + durationMs;
    const samples: Sample[] = [];
    const sample = async (): Promise<void> => {
      const reader = await (redis as HeraldRedis).command<string | null>('GET', INGEST_LEASE_KEY);
      await Promise.all(
        topology.gateways.map(async (gateway) => {
          const snapshot = await MetricsSnapshot.scrape(gateway.url);
          samples.push({
            instance: gateway.instanceId,
            atMs: Date.now() - started,
            rssMb: snapshot.value('herald_process_resident_memory_bytes') / MB,
            heapMb: snapshot.value('herald_nodejs_heap_size_used_bytes') / MB,
            heapTotalMb: snapshot.value('herald_nodejs_heap_size_total_bytes') / MB,
            sockets: snapshot.value('herald_connected_sockets'),
            reader: reader === gateway.instanceId,
          });
        }),
      );
    };
    await sample();
    const sampler = setInterval(() => void sample().catch((error: unknown) => say(`sample failed: ${String(error)}`)), SAMPLE_MS);

    // Churn: one device every `churnEveryMs` goes offline (its socket closed, as an app sent to the background) and comes
    // back 1-5 s later with its cursor: CONNECTIONS × CHURN_PERCENT % new sessions a minute.
    const rng = random(14);
    const churnEveryMs = 60_000 / ((CONNECTIONS * CHURN_PERCENT) / 100);
    const away = new Set<ResumingDevice>();
    const returns: Array<Promise<unknown>> = [];
    let churned = 0;
    const churner = setInterval(() => {
      if (Date.now() >= endAt - OFFLINE_MS[1]) return;
      const device = devices[Math.floor(rng() * devices.length)];
      if (away.has(device)) return;
      away.add(device);
      churned++;
      device.goOffline();
      const offlineMs = OFFLINE_MS[0] + rng() * (OFFLINE_MS[1] - OFFLINE_MS[0]);
      returns.push(new Promise((resolve) => setTimeout(resolve, offlineMs)).then(() => device.comeBack(30_000)).finally(() => away.delete(device)));
    }, churnEveryMs);

    let lastReport = started;
    const load: SteadyLoadResult = await publishSteadily(sdk, {
      users,
      ratePerSecond: RATE,
      count: Math.ceil((RATE * durationMs) / 1000),
      maxDurationMs: durationMs,
      type: 'soak',
      ledger,
      until: () => {
        if (Date.now() - lastReport >= 60_000) {
          lastReport = Date.now();
          const latest = samples.slice(-topology.gateways.length);
          say(
            `${((Date.now() - started) / 60_000).toFixed(1)} min: ${ledger.acceptedCount} accepted, ${churned} churned; ` +
              latest.map((s) => `${s.instance} rss ${s.rssMb.toFixed(0)} MB heap ${s.heapMb.toFixed(0)} MB sockets ${s.sockets}`).join('; '),
          );
        }
        return false;
      },
    });
    clearInterval(churner);
    await Promise.allSettled(returns);
    clearInterval(sampler);
    await sample();
    say(describeLoad(load));
    await waitUntil(() => ledger.complete(), 'every device to receive every accepted notification', 60_000).catch(() => undefined);
    const users_ = ledger.users;
    const order = new Map(await Promise.all(users_.map(async (user) => [user, await (redis as HeraldRedis).feedIds(user)] as const)));
    const rows = ledger.rows(order);
    const total = (key: 'lost' | 'duplicated' | 'outOfOrder' | 'misdelivered'): number => rows.reduce((sum, row) => sum + row[key], 0);

    const { slopes, table } = memoryReport(
      samples,
      topology.gateways.map((gateway) => gateway.instanceId),
    );
    const ledgerLine =
      `${load.accepted} accepted of ${load.attempted} published in ${(load.durationMs / 60_000).toFixed(1)} min (${load.achievedRate.toFixed(0)}/s); ` +
      `${devices.length} devices, ${churned} churned (offline 1-5 s, resumed with since): lost ${total('lost')}, duplicated ${total('duplicated')}, ` +
      `out of order ${total('outOfOrder')}, misdelivered ${total('misdelivered')}`;
    const markdown = [
      `# Soak: ${MINUTES} min, ${CONNECTIONS} connections, ${RATE}/s, churn ${CHURN_PERCENT} %/min`,
      '',
      `${new Date().toISOString()}; 3 gateway processes, redis-server; samples every ${SAMPLE_MS / 1000} s, slope over those after the first ${WARMUP_MS / 1000} s.`,
      `Slopes in MB/min ± the 95 % interval (1.96 standard errors). Floor and ceiling: the lowest and highest sample of each ${FLOOR_WINDOW_MS / 1000}-s window.`,
      VERDICT_RULE,
      '',
      table,
      '',
      ledgerLine,
      '',
    ].join('\n');
    process.stdout.write(`${markdown}\n`);
    const dir = join(REPO_ROOT, '.tmp/artifacts/soak');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'soak.md'), markdown);
    writeFileSync(
      join(dir, 'soak.json'),
      `${JSON.stringify({ minutes: MINUTES, connections: CONNECTIONS, rate: RATE, churnPercent: CHURN_PERCENT, load, churned, slopes, samples, lost: total('lost'), duplicated: total('duplicated') }, null, 2)}\n`,
    );
    const clean = total('lost') + total('duplicated') + total('outOfOrder') + total('misdelivered') === 0;
    if (!clean) say(`ledger not clean:\n${DeliveryLedger.table(rows)}`);
    return clean && slopes.every((s) => s.verdict !== 'GROWING') ? 0 : 1;
  } finally {
    for (const device of devices) device.close();
    await cleanUp(sdk, redis, topology).catch((error: unknown) => say(`cleanup: ${String(error)}`));
  }
}

/** `--from <soak.json>`: the memory table of a saved run, with this version's analysis. */
function reanalyze(file: string): number {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { samples: Sample[] };
  const untilMs = values['first-minutes'] === undefined ? Infinity : positive('first-minutes', values['first-minutes'], 120) * 60_000;
  const samples = saved.samples.filter((s) => s.atMs <= untilMs);
  const { slopes, table } = memoryReport(samples, [...new Set(samples.map((s) => s.instance))]);
  process.stdout.write(`${VERDICT_RULE}\n\n${table}\n`);
  return slopes.every((s) => s.verdict !== 'GROWING') ? 0 : 1;
}

(values.from === undefined ? main() : Promise.resolve(reanalyze(values.from))).then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
