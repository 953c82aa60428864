import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_RESULTS_DIR } from '../paths.js';
import { DEFAULT_SYSTEMS, SYSTEM_NAMES, type SystemName } from '../runner/sweep-planner.js';
import { DEFAULT_ACK_INTERVAL_MS } from '../workers/worker-protocol.js';

export const HELP = `Herald benchmark: delivery throughput, latency, memory, resumption and Redis cost of Herald against
bare socket.io baselines, same clients, same machine, interleaved.

Usage: npm run bench -- [flags]

Systems (--systems; default herald,local,streams)
  herald                     the gateway (dist/apps/gateway), fed through the command stream herald:{commands}
  herald-acks                the same gateway, its clients acknowledging delivery as the SDK does (inbox.ack with
                             the highest cursor received, at most every --ack-interval ms per client): the cost of acks
  local                      bare socket.io, every instance subscribed to notify.user and emitting to its own
                             sockets: Herald's previous design in its strongest bare form
  streams                    bare socket.io on @socket.io/redis-streams-adapter with connection state recovery
  baseline                   bare socket.io on @socket.io/redis-adapter, fed by @socket.io/redis-emitter
  previous                   Herald's gateway from another checkout (--previous-dir), fed by notify.user PUBLISH

Modes (default: sweep)
  (no mode flag)             sweep: escalate the rate until each system saturates (loss, duplicates or
                             p99 over --max-p99), bisect, then compare all at half the saturation of the bare
                             baseline (local, else baseline, else streams): --compare-repeats interleaved runs,
                             the p99 over all their deliveries counts
  --rates R1,R2,...          run exactly these rates (commands/s) instead of searching
  --repeat N                 with --rates: run each rate N times (interleaved); the summary gives medians, the
                             steadier figures for before/after comparisons on a noisy machine (default 1)
  --profile                  run Herald (or the --systems given) at the first --rates value (default 1000) with
                             --cpu-prof and allocation sampling on every instance; writes the profiles and prints
                             where the time goes during the load window
  --heap-snapshots           with --profile: also take heap snapshots on instance 0 before and after the clients
                             connect and list what each idle connection retains (Herald minus each other system too).
                             Snapshots disturb the CPU profile that follows: take them in a run of their own
  --storm                    reconnect storm: at the first --rates value (default 2000), --repeat runs per system
                             (interleaved) of --duration seconds (default 10); --storm-at seconds in, every client
                             of one instance reconnects at once while publishing goes on, each to another
                             instance; reports per system lost, duplicated, recovered and reconnect time p50/p99
  --storm-kind close|kill    close: the clients close their transports (the instance stays up and sees them go,
                             a network blip: connection state recovery's best case); kill: SIGKILL the instance
                             (a crash), restarted after the run (default close)
  --storm-at S               seconds into each storm run (default 3)
  --scaling N1,N2,...        scaling: for each instance count in turn, a session with the same connections, users
                             and rate (first --rates value, default 3000), --repeat runs per system; reports cluster
                             CPU (all instances) and Redis CPU per notification and the ratio of the last count to
                             the first. Counts may repeat (1,4,1,4) to interleave sessions
  --analyze FILE             summarise an existing .cpuprofile or .heapprofile and exit
  --chart FILE.json          draw the chart of an existing report again (FILE.svg next to it) and exit
  --help                     this text

Load
  --systems LIST             among herald,herald-acks,local,streams,baseline,previous (default
                             herald,local,streams); runs interleave per rate, order alternating
  --instances N              instances per system (default 2)
  --connections C            socket.io connections per system (default 2000)
  --users U                  distinct users; each has about C/U devices on different instances (default 1000)
  --workers W                client worker processes (default 2)
  --duration S               seconds of publishing per run (default 4)
  --warmup S                 seconds of unreported load per system before the first run, at the lowest rate, so
                             neither system's first measured run pays for JIT compilation (default 2; 0: none)
  --payload-bytes B          padding in each notification's data (default 100)
  --ack-interval MS          herald-acks: at most one acknowledgement per client per MS (default the SDK's, 1000)
  --start-rate R             first sweep rate (default 1000)
  --rate-factor F            sweep escalation factor (default 1.5)
  --max-rate R               highest sweep rate (default 30000)
  --refine N                 bisection steps per system after the escalation (default 1)
  --compare-repeats N        runs per system at half the baseline's saturation; the p99 over all their deliveries
                             counts (default 3)
  --compare-duration S       seconds of publishing per run there (default 8)
  --compare-settle S         before each of those runs, the system's instances collect garbage and take S seconds
                             of unreported load at the same rate, so every run starts from the same state however
                             long the system sat idle or what the overload runs left in its heap (default 2; 0: none)
  --retries N                sweep: attempts more for a run that failed on latency alone (a shared machine has
                             bursts); a rate passes if an attempt passes. Loss and duplicates are never retried, nor a
                             p99 of 5x --max-p99 or more unless other work on the machine used over 0.25 cores during
                             that run (default 1)
  --max-p99 MS               latency limit of a passing run (default 100)
  --drain-timeout S          after publishing, how long to wait for deliveries still under way (default 10)
  --connect-timeout S        per connection handshake (default 20)

Targets (default: the harness starts its own redis-server and instances on loopback)
  --herald-urls URLS         comma-separated base URLs of running gateways (needs --herald-redis-url)
  --herald-redis-url URL     the Redis those gateways listen on
  --herald-acks-urls, --local-urls, --streams-urls, --baseline-urls, --previous-urls URLS   same for the
                             other systems' servers (bench/baseline/*-server.ts), each with its
                             --<system>-redis-url URL
  --previous-dir DIR         a checkout of Herald before durable delivery, built (npm ci && npm run build): the
                             previous system's gateway is DIR/dist/apps/gateway/src/main.js
  --previous-stream          feed the previous system through the command stream, as herald: --previous-dir is then
                             an earlier durable checkout (a before/after comparison within one run)
  --jwt-secret SECRET        HS256 secret the targets accept (default: random, given to the servers it starts)
  --allow-remote             allow targets outside 127.0.0.0/8 (refused by default: a load generator
                             should not point at production by accident)
  --node-flags "FLAGS"       extra node flags for every instance the harness starts
  --herald-env KEY=VALUE     extra environment for the gateways it starts (repeatable), e.g. LOG_LEVEL=warn

Output
  --out DIR                  where JSON results, the SVG chart and profiles go (default bench/results)
  --json FILE                exact path of the JSON report
  --quiet                    no progress lines on stderr

Bigger runs: raise --connections/--users/--instances and --workers together (a worker holds a few thousand
connections comfortably), and give it more cores; see docs/performance.md.
`;

/** Seconds per run unless --duration says otherwise; a storm run needs time on both sides of the storm. */
const DEFAULT_DURATION = 4;
const STORM_DURATION = 10;

const positiveInt = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be positive`);
const positiveNumber = (name: string) => z.coerce.number({ error: `${name} must be a number` }).positive(`${name} must be positive`);

const urlList = (name: string) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim().replace(/\/+$/, ''))
        .filter((item) => item.length > 0),
    )
    .refine((urls) => urls.length > 0, `${name} needs at least one URL`)
    .refine((urls) => urls.every((url) => /^https?:\/\//.test(url) && URL.canParse(url)), `${name} must be http(s) URLs`);

const redisUrl = (name: string) => z.string().refine((value) => /^rediss?:\/\//.test(value) && URL.canParse(value), `${name} must be a redis:// URL`);

const RawSchema = z
  .object({
    systems: z
      .string()
      .default(DEFAULT_SYSTEMS.join(','))
      .transform((value) => [
        ...new Set(
          value
            .split(',')
            .map((item) => item.trim())
            .filter((item) => item.length > 0),
        ),
      ])
      .pipe(z.array(z.enum(SYSTEM_NAMES, { error: `systems must be among ${SYSTEM_NAMES.join(', ')}` })).min(1, 'systems must name at least one system')),
    instances: positiveInt('instances').max(64).default(2),
    connections: positiveInt('connections').max(200_000).default(2000),
    users: positiveInt('users').default(1000),
    workers: positiveInt('workers').max(64).default(2),
    duration: positiveNumber('duration').max(3600).optional(),
    warmup: z.coerce.number().min(0).max(600).default(2),
    'payload-bytes': z.coerce.number().int().min(0).max(60_000).default(100),
    'ack-interval': z.coerce.number().int().min(1).max(60_000).default(DEFAULT_ACK_INTERVAL_MS),
    rates: z
      .string()
      .transform((value) => value.split(',').map((item) => Number(item.trim())))
      .refine((rates) => rates.length > 0 && rates.every((rate) => Number.isFinite(rate) && rate > 0), 'rates must be positive numbers, e.g. 500,1000')
      .optional(),
    'start-rate': positiveNumber('start-rate').default(1000),
    'rate-factor': z.coerce.number().gt(1, 'rate-factor must be greater than 1').max(10).default(1.5),
    'max-rate': positiveNumber('max-rate').default(30_000),
    refine: z.coerce.number().int().min(0).max(10).default(1),
    'compare-repeats': z.coerce.number().int().min(1).max(20).default(3),
    'compare-duration': positiveNumber('compare-duration').max(3600).default(8),
    'compare-settle': z.coerce.number().min(0).max(600).default(2),
    repeat: positiveInt('repeat').max(50).default(1),
    retries: z.coerce.number().int().min(0).max(5).default(1),
    'max-p99': positiveNumber('max-p99').default(100),
    'drain-timeout': positiveNumber('drain-timeout').default(10),
    'connect-timeout': positiveNumber('connect-timeout').default(20),
    'herald-urls': urlList('herald-urls').optional(),
    'herald-redis-url': redisUrl('herald-redis-url').optional(),
    'herald-acks-urls': urlList('herald-acks-urls').optional(),
    'herald-acks-redis-url': redisUrl('herald-acks-redis-url').optional(),
    'baseline-urls': urlList('baseline-urls').optional(),
    'baseline-redis-url': redisUrl('baseline-redis-url').optional(),
    'local-urls': urlList('local-urls').optional(),
    'local-redis-url': redisUrl('local-redis-url').optional(),
    'streams-urls': urlList('streams-urls').optional(),
    'streams-redis-url': redisUrl('streams-redis-url').optional(),
    'previous-urls': urlList('previous-urls').optional(),
    'previous-redis-url': redisUrl('previous-redis-url').optional(),
    'previous-dir': z.string().min(1).optional(),
    'previous-stream': z.boolean().default(false),
    storm: z.boolean().default(false),
    'storm-kind': z.enum(['close', 'kill'], { error: 'storm-kind must be close or kill' }).default('close'),
    'storm-at': positiveNumber('storm-at').max(3600).default(3),
    scaling: z
      .string()
      .transform((value) => value.split(',').map((item) => Number(item.trim())))
      .refine(
        (counts) => counts.length >= 2 && counts.every((count) => Number.isInteger(count) && count >= 1 && count <= 64),
        'scaling needs two or more instance counts, e.g. 1,4',
      )
      .optional(),
    'jwt-secret': z.string().min(16, 'jwt-secret must be at least 16 characters').optional(),
    'allow-remote': z.boolean().default(false),
    'node-flags': z
      .string()
      .transform((value) => value.split(/\s+/).filter((flag) => flag.length > 0))
      .refine((flags) => flags.every((flag) => flag.startsWith('-')), 'node-flags must be node options, e.g. "--max-old-space-size=512"')
      .default([]),
    'herald-env': z
      .array(z.string().regex(/^[A-Z_][A-Z0-9_]*=/, 'herald-env must be KEY=VALUE'))
      .default([])
      .transform((pairs) => Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))),
    profile: z.boolean().default(false),
    'heap-snapshots': z.boolean().default(false),
    analyze: z.string().min(1).optional(),
    chart: z
      .string()
      .regex(/\.json$/, 'chart takes a .json report')
      .optional(),
    out: z.string().min(1).default(DEFAULT_RESULTS_DIR),
    json: z.string().min(1).optional(),
    quiet: z.boolean().default(false),
  })
  .superRefine((raw, ctx) => {
    if (raw.users > raw.connections) ctx.addIssue({ code: 'custom', path: ['users'], message: 'users cannot exceed connections (every user needs a device)' });
    for (const system of SYSTEM_NAMES) {
      const urls = raw[`${system}-urls`];
      const redis = raw[`${system}-redis-url`];
      if (urls && !redis) ctx.addIssue({ code: 'custom', path: [`${system}-redis-url`], message: `--${system}-urls needs --${system}-redis-url` });
      if (!urls && redis) ctx.addIssue({ code: 'custom', path: [`${system}-urls`], message: `--${system}-redis-url needs --${system}-urls` });
      if (urls && !raw['jwt-secret'])
        ctx.addIssue({ code: 'custom', path: ['jwt-secret'], message: `--${system}-urls needs --jwt-secret (the secret those servers accept)` });
      const hosts = [...(urls ?? []), ...(redis ? [redis] : [])].map((url) => new URL(url).hostname);
      const remote = hosts.filter((host) => !/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost' && host !== '[::1]');
      if (remote.length > 0 && !raw['allow-remote']) {
        ctx.addIssue({ code: 'custom', path: [`${system}-urls`], message: `${remote.join(', ')} is not loopback; pass --allow-remote to load it on purpose` });
      }
    }
    if (raw['heap-snapshots'] && !raw.profile) ctx.addIssue({ code: 'custom', path: ['heap-snapshots'], message: '--heap-snapshots works with --profile' });
    if (raw.systems.includes('previous') && !raw['previous-dir'] && !raw['previous-urls'])
      ctx.addIssue({ code: 'custom', path: ['previous-dir'], message: 'the previous system needs --previous-dir (a built checkout) or --previous-urls' });
    if (raw.storm && raw.scaling) ctx.addIssue({ code: 'custom', path: ['storm'], message: '--storm and --scaling are separate modes' });
    if (raw.storm && raw['storm-at'] >= (raw.duration ?? STORM_DURATION))
      ctx.addIssue({ code: 'custom', path: ['storm-at'], message: 'storm-at must fall within --duration' });
  });

export type LoadgenMode = 'sweep' | 'fixed' | 'storm' | 'scaling' | 'profile' | 'analyze' | 'chart' | 'help';

export interface StormSettings {
  /** close: the clients close their transports; kill: SIGKILL the instance (restarted after the run). */
  kind: 'close' | 'kill';
  /** Seconds into the run. */
  atSeconds: number;
}

export interface RemoteTargetSpec {
  urls: string[];
  redisUrl: string;
}

export interface LoadgenOptions {
  mode: LoadgenMode;
  systems: SystemName[];
  instances: number;
  connections: number;
  users: number;
  workers: number;
  durationSeconds: number;
  warmupSeconds: number;
  payloadBytes: number;
  /** herald-acks clients: at most one acknowledgement per this many ms each. */
  ackIntervalMs: number;
  rates: number[];
  startRate: number;
  rateFactor: number;
  maxRate: number;
  refineSteps: number;
  compareRepeats: number;
  compareDurationSeconds: number;
  compareSettleSeconds: number;
  repeat: number;
  retries: number;
  maxP99Ms: number;
  drainTimeoutSeconds: number;
  connectTimeoutSeconds: number;
  remote: Partial<Record<SystemName, RemoteTargetSpec>>;
  jwtSecret: string;
  nodeFlags: string[];
  heraldEnv: Record<string, string>;
  heapSnapshots: boolean;
  /** A built checkout of Herald before durable delivery (the `previous` system). */
  previousDir?: string;
  /** The previous system is fed through the command stream, like herald (--previous-stream: two durable checkouts). */
  previousStream: boolean;
  storm: StormSettings;
  /** Instance counts of the scaling mode, in order. */
  scalingInstances: number[];
  analyzeFile?: string;
  chartFrom?: string;
  outDir: string;
  jsonFile?: string;
  quiet: boolean;
}

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

const STRING_FLAGS = [
  'systems',
  'instances',
  'connections',
  'users',
  'workers',
  'duration',
  'warmup',
  'payload-bytes',
  'ack-interval',
  'rates',
  'start-rate',
  'rate-factor',
  'max-rate',
  'refine',
  'compare-repeats',
  'compare-duration',
  'compare-settle',
  'repeat',
  'retries',
  'max-p99',
  'drain-timeout',
  'connect-timeout',
  'herald-urls',
  'herald-redis-url',
  'herald-acks-urls',
  'herald-acks-redis-url',
  'baseline-urls',
  'baseline-redis-url',
  'local-urls',
  'local-redis-url',
  'streams-urls',
  'streams-redis-url',
  'previous-urls',
  'previous-redis-url',
  'previous-dir',
  'storm-kind',
  'storm-at',
  'scaling',
  'jwt-secret',
  'node-flags',
  'analyze',
  'chart',
  'out',
  'json',
] as const;

/** Parses command line flags; throws an OptionsError that names every bad flag. */
export function parseLoadgenOptions(argv: readonly string[]): LoadgenOptions {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(STRING_FLAGS.map((flag) => [flag, { type: 'string' as const }])),
        'herald-env': { type: 'string', multiple: true },
        'allow-remote': { type: 'boolean' },
        profile: { type: 'boolean' },
        storm: { type: 'boolean' },
        'previous-stream': { type: 'boolean' },
        'heap-snapshots': { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new OptionsError(`${error instanceof Error ? error.message : String(error)} (see --help)`);
  }
  if (values['help']) return { ...parseLoadgenOptions([]), mode: 'help' };
  const result = RawSchema.safeParse(values);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `--${String(issue.path[0] ?? 'flags')}: ${issue.message}`);
    throw new OptionsError(`Invalid flags: ${problems.join('; ')} (see --help)`);
  }
  const raw = result.data;
  const remote: Partial<Record<SystemName, RemoteTargetSpec>> = {};
  for (const system of SYSTEM_NAMES) {
    const urls = raw[`${system}-urls`];
    const redis = raw[`${system}-redis-url`];
    if (urls && redis) remote[system] = { urls, redisUrl: redis };
  }
  const mode: LoadgenMode = raw.analyze
    ? 'analyze'
    : raw.chart
      ? 'chart'
      : raw.profile
        ? 'profile'
        : raw.storm
          ? 'storm'
          : raw.scaling
            ? 'scaling'
            : raw.rates
              ? 'fixed'
              : 'sweep';
  const defaultRates: Partial<Record<LoadgenMode, number[]>> = { profile: [1000], storm: [2000], scaling: [3000] };
  return {
    mode,
    // A profile is of Herald unless systems are named explicitly (profiling the baseline shows what bare socket.io costs).
    systems: mode === 'profile' && values['systems'] === undefined ? ['herald'] : raw.systems,
    instances: raw.instances,
    connections: raw.connections,
    users: raw.users,
    workers: raw.workers,
    durationSeconds: raw.duration ?? (mode === 'storm' ? STORM_DURATION : DEFAULT_DURATION),
    warmupSeconds: raw.warmup,
    payloadBytes: raw['payload-bytes'],
    ackIntervalMs: raw['ack-interval'],
    rates: raw.rates ?? defaultRates[mode] ?? [],
    startRate: raw['start-rate'],
    rateFactor: raw['rate-factor'],
    maxRate: raw['max-rate'],
    refineSteps: raw.refine,
    compareRepeats: raw['compare-repeats'],
    compareDurationSeconds: raw['compare-duration'],
    compareSettleSeconds: raw['compare-settle'],
    repeat: raw.repeat,
    retries: raw.retries,
    maxP99Ms: raw['max-p99'],
    drainTimeoutSeconds: raw['drain-timeout'],
    connectTimeoutSeconds: raw['connect-timeout'],
    remote,
    jwtSecret: raw['jwt-secret'] ?? randomBytes(24).toString('hex'),
    nodeFlags: raw['node-flags'],
    heraldEnv: raw['herald-env'],
    heapSnapshots: raw['heap-snapshots'],
    previousDir: raw['previous-dir'] ? resolve(raw['previous-dir']) : undefined,
    previousStream: raw['previous-stream'],
    storm: { kind: raw['storm-kind'], atSeconds: raw['storm-at'] },
    scalingInstances: raw.scaling ?? [],
    analyzeFile: raw.analyze ? resolve(raw.analyze) : undefined,
    chartFrom: raw.chart ? resolve(raw.chart) : undefined,
    outDir: resolve(raw.out),
    jsonFile: raw.json ? resolve(raw.json) : undefined,
    quiet: raw.quiet,
  };
}
