import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { INSTANCE_PROBE } from '../paths.js';
import { PROBE_TAG, isProbeReply, type ProbeReply, type ProbeRequest, type ProbeSample } from './probe-protocol.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface InstanceOptions {
  name: string;
  entry: string;
  env: Record<string, string>;
  /** Extra node flags for this process (e.g. --cpu-prof). */
  nodeFlags?: readonly string[];
  baseUrl: string;
}

const KEPT_LINES = 200;

/** A measured server (gateway instance or baseline) forked with the instance probe preloaded. */
export class InstanceProcess {
  private readonly lines: string[] = [];
  private nextProbeId = 1;
  readonly exited: Promise<unknown>;

  private constructor(
    readonly name: string,
    readonly baseUrl: string,
    private readonly child: ChildProcess,
    private readonly options: InstanceOptions,
  ) {
    this.exited = once(child, 'exit');
    // A send racing the process' death (a kill storm) must fail that probe, not the harness.
    child.on('error', (error) => this.lines.push(`[harness] ${error.message}`));
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > KEPT_LINES) this.lines.shift();
        if (process.env['HERALD_TEST_VERBOSE']) process.stderr.write(`[${name}] ${line}\n`);
      });
    }
  }

  static start(options: InstanceOptions): InstanceProcess {
    const child = fork(options.entry, [], {
      execArgv: ['--import', pathToFileURL(INSTANCE_PROBE).href, ...(options.nodeFlags ?? [])],
      env: { PATH: process.env['PATH'] ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    return new InstanceProcess(options.name, options.baseUrl, child, options);
  }

  /** The same server started again (same port, environment and flags), e.g. after `kill()`. */
  respawn(): InstanceProcess {
    return InstanceProcess.start(this.options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(count = 20): string {
    return this.lines.slice(-count).join('\n');
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited during startup:\n${this.tail()}`);
      try {
        if ((await fetch(`${this.baseUrl}/health/ready`)).status === 200) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.tail()}`);
      await delay(100);
    }
  }

  async probe(request: DistributiveOmit<ProbeRequest, 'tag' | 'id'>, timeoutMs = 30_000): Promise<Extract<ProbeReply, { ok: true }>> {
    if (!this.running || !this.child.connected) throw new Error(`${this.name}: not running, no probe`);
    const id = this.nextProbeId++;
    const reply = new Promise<ProbeReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', listener);
        reject(new Error(`${this.name}: probe ${request.op} timed out`));
      }, timeoutMs);
      const listener = (message: unknown): void => {
        if (!isProbeReply(message) || message.id !== id) return;
        clearTimeout(timer);
        this.child.off('message', listener);
        resolve(message);
      };
      this.child.on('message', listener);
    });
    this.child.send({ ...request, tag: PROBE_TAG, id });
    const result = await reply;
    if (!result.ok) throw new Error(`${this.name}: probe ${request.op} failed: ${result.error}`);
    return result;
  }

  async sample(): Promise<ProbeSample> {
    const { sample } = await this.probe({ op: 'sample' });
    if (!sample) throw new Error(`${this.name}: probe returned no sample`);
    return sample;
  }

  /** SIGKILL, like a crash: no draining, no goodbye to the clients. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (the servers drain and exit, writing any --cpu-prof profile), SIGKILL after the grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
