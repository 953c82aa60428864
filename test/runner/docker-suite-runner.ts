// `npm run test:containers` and `npm run test:compose`: prepares what the Docker suites need once per run (the
// engine check, the images, the gateway image built from the project's Dockerfile), runs the test files with
// node's test runner, then removes whatever a test left behind. Decisions: docs/testing.md.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_IMAGES, DOCKER_HINT, REPO_ROOT, RUN_LABEL, composeProjectName } from '@herald/testing';

const run = promisify(execFile);

interface Suite {
  files: string[];
  /** Images the tests start containers from (after the env file), besides the gateway image. */
  images: Array<'REDIS_IMAGE' | 'NGINX_IMAGE' | 'PROMETHEUS_IMAGE'>;
  needsCompose: boolean;
  concurrency: number;
}

const SUITES = new Map<string, Suite>([
  // Two files at a time, as in `npm test`: each starts its own network and containers.
  ['scenarios', { files: ['dist/test/scenarios/**/*.test.js'], images: ['REDIS_IMAGE', 'NGINX_IMAGE'], needsCompose: false, concurrency: 2 }],
  // The compose stack publishes fixed ports (8080, 9090, 3001-3003): one file at a time.
  ['compose', { files: ['dist/test/compose/**/*.test.js'], images: ['REDIS_IMAGE', 'NGINX_IMAGE', 'PROMETHEUS_IMAGE'], needsCompose: true, concurrency: 1 }],
  // The chaos suite (test/chaos/): the compose stack (fixed ports, like the compose test) and local processes, one
  // file at a time so the faults of one do not disturb the timings of the other.
  ['chaos', { files: ['dist/test/chaos/**/*.test.js'], images: ['REDIS_IMAGE', 'NGINX_IMAGE', 'PROMETHEUS_IMAGE'], needsCompose: true, concurrency: 1 }],
]);

const DEFAULTS: Record<string, string> = DEFAULT_IMAGES;

const ENV_FILE = join(REPO_ROOT, '.tmp/docker-local.env');
const LOG_DIR = join(REPO_ROOT, '.tmp/logs');
const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';

const say = (message: string): void => void process.stderr.write(`[docker-suite] ${message}\n`);
const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

class SuiteError extends Error {}

function usage(): never {
  process.stderr.write(`usage: node dist/test/runner/docker-suite-runner.js <${[...SUITES.keys()].join('|')}> [test files...]\n`);
  process.exit(64);
}

/** `export NAME=value` lines of .tmp/docker-local.env (written by scripts/docker-local.sh); set only what is unset. */
function loadDockerLocalEnv(): void {
  if (!existsSync(ENV_FILE)) {
    say(`no ${relative(REPO_ROOT, ENV_FILE)}: using the images named in the environment or the official ones`);
    return;
  }
  const applied: string[] = [];
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, name, value] = match as unknown as [string, string, string];
    if (process.env[name] === undefined) {
      process.env[name] = value.replace(/^(['"])(.*)\1$/, '$2');
      applied.push(name);
    }
  }
  say(`environment from ${relative(REPO_ROOT, ENV_FILE)}: ${applied.join(', ') || 'nothing new (already set)'}`);
}

async function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('docker', [...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

const errorText = (error: unknown): string => {
  const { stderr, message } = error as { stderr?: string; message?: string };
  return (stderr?.trim() || message || String(error)).split('\n').slice(-5).join(' | ');
};

async function checkEngine(needsCompose: boolean): Promise<void> {
  let version: string;
  try {
    version = await docker(['version', '--format', '{{.Server.Version}}'], 20_000);
  } catch (error) {
    const why = errorText(error);
    throw new SuiteError(
      inCi
        ? `CI: the Docker suites must run, but no Docker engine answered (${why}). .ci/run starts one with scripts/docker-local.sh; see its output.`
        : `this suite runs Herald in Docker containers and needs a Docker engine; none answered (${why}). ${DOCKER_HINT}.`,
    );
  }
  let compose = '';
  if (needsCompose) {
    try {
      compose = `, compose ${await docker(['compose', 'version', '--short'], 20_000)}`;
    } catch (error) {
      throw new SuiteError(`the compose test needs Docker Compose v2 (\`docker compose\`), which is missing (${errorText(error)}). ${DOCKER_HINT}.`);
    }
  }
  say(`Docker engine ${version}${compose}`);
}

/** Every image a suite starts must be here already, or pullable: otherwise say which and how to get it. */
async function requireImages(names: readonly string[]): Promise<void> {
  for (const variable of names) {
    const image = process.env[variable] ?? DEFAULTS[variable];
    process.env[variable] = image;
    try {
      await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
      continue;
    } catch {
      say(`${variable}=${image} is not on this machine: pulling it`);
    }
    try {
      await docker(['pull', image], 600_000);
    } catch (error) {
      throw new SuiteError(
        `${variable}=${image} is not on this machine and cannot be pulled (${errorText(error)}). Without a registry, ` +
          `\`bash scripts/docker-local.sh\` (as root) builds local stand-ins and writes ${relative(REPO_ROOT, ENV_FILE)}, which this runner reads.`,
      );
    }
  }
}

/** The gateway image, built once per run from the project's Dockerfile (the layer cache makes an unchanged rebuild quick). */
async function buildGatewayImage(): Promise<void> {
  const image = process.env['HERALD_GATEWAY_IMAGE'] ?? DEFAULTS['HERALD_GATEWAY_IMAGE'];
  process.env['HERALD_GATEWAY_IMAGE'] = image;
  const nodeImage = process.env['NODE_IMAGE'] ?? DEFAULT_IMAGES.NODE_IMAGE;
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, 'gateway-image-build.log');
  const started = performance.now();
  say(`building ${image} from the Dockerfile (NODE_IMAGE=${nodeImage}; log: ${relative(REPO_ROOT, logFile)})`);
  const child = spawn('docker', ['build', '--build-arg', `NODE_IMAGE=${nodeImage}`, '--tag', image, '.'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  const text = Buffer.concat(output).toString('utf8');
  writeFileSync(logFile, text);
  if (code !== 0) {
    throw new SuiteError(`docker build of ${image} failed (exit ${String(code)}); last lines:\n${text.split('\n').slice(-30).join('\n')}`);
  }
  say(`built ${image} in ${seconds(started)}`);
}

async function runTests(suite: Suite, files: readonly string[], runId: string): Promise<number> {
  const env = { ...process.env, HERALD_TOPOLOGY: 'containers', HERALD_TEST_RUN_ID: runId };
  const args = ['--test', `--test-concurrency=${suite.concurrency}`, ...files];
  say(`node ${args.join(' ')} (HERALD_TOPOLOGY=containers, run ${runId})`);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: 'inherit' });
  // Ctrl-C reaches the test runner too (same process group); the sweep below still runs.
  process.on('SIGINT', () => say('interrupted: stopping the tests, then removing their containers'));
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

/** Removes containers and networks of this run that are still there. Returns how many it found. */
async function sweep(runId: string): Promise<number> {
  const filters = [`label=${RUN_LABEL}=${runId}`, `label=com.docker.compose.project=${composeProjectName(runId)}`];
  let found = 0;
  for (const filter of filters) {
    const containers = (await docker(['ps', '--all', '--quiet', '--filter', filter])).split('\n').filter(Boolean);
    if (containers.length > 0) {
      found += containers.length;
      await docker(['rm', '--force', '--volumes', ...containers]);
    }
    const networks = (await docker(['network', 'ls', '--quiet', '--filter', filter])).split('\n').filter(Boolean);
    if (networks.length > 0) {
      found += networks.length;
      await docker(['network', 'rm', ...networks]);
    }
  }
  return found;
}

async function main(): Promise<number> {
  const [name = '', ...files] = process.argv.slice(2);
  const suite = SUITES.get(name);
  if (!suite) usage();
  const started = performance.now();
  loadDockerLocalEnv();
  // Ryuk, testcontainers' reaper, is an image that cannot be pulled without a registry: the tests and the sweep
  // below remove their own containers instead.
  process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  // /.dockerenv makes testcontainers look for published ports on the bridge gateway, where nothing listens.
  if (existsSync('/.dockerenv')) process.env['TESTCONTAINERS_HOST_OVERRIDE'] ??= '127.0.0.1';
  const runId = process.env['HERALD_TEST_RUN_ID'] ?? `run-${randomBytes(4).toString('hex')}`;

  await checkEngine(suite.needsCompose);
  await requireImages(['NODE_IMAGE', ...suite.images]);
  await buildGatewayImage();
  say(`prepared in ${seconds(started)}`);

  let code = 1;
  try {
    code = await runTests(suite, files.length > 0 ? files : suite.files, runId);
  } finally {
    const left = await sweep(runId);
    if (left > 0) {
      say(`removed ${left} container(s)/network(s) the tests left behind: a test does not clean up after itself`);
      if (code === 0) code = 1;
    }
  }
  say(`${name} ${code === 0 ? 'passed' : 'FAILED'} in ${seconds(started)}`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof SuiteError ? error.message : `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
