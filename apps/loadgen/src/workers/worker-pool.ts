import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../ipc/ipc-rpc.js';
import type { SystemName } from '../runner/sweep-planner.js';
import { DEFAULT_ACK_INTERVAL_MS, type ConnectResult, type ProgressResult, type StormParams, type WorkerMethods, type WorkerRunSummary } from './worker-protocol.js';
import { splitAmongWorkers, type DeviceSpec } from './workload.js';

const WORKER_ENTRY = fileURLToPath(new URL('./client-worker.js', import.meta.url));

interface Worker {
  child: ChildProcess;
  rpc: RpcClient<WorkerMethods>;
}

/** The client side of the load: worker processes holding socket.io-client connections. */
export class WorkerPool {
  private constructor(private readonly workers: Worker[]) {}

  static start(count: number): WorkerPool {
    const workers = Array.from({ length: count }, (_, index): Worker => {
      // Workers log nothing on purpose; stderr is kept so a crash explains itself.
      const child = fork(WORKER_ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
      return { child, rpc: new RpcClient<WorkerMethods>(child, `loadgen worker ${index}`) };
    });
    return new WorkerPool(workers);
  }

  get pids(): number[] {
    return this.workers.flatMap((worker) => (worker.child.pid === undefined ? [] : [worker.child.pid]));
  }

  async connect(
    system: SystemName,
    namespace: string,
    devices: readonly DeviceSpec[],
    jwtSecret: string,
    timeoutMs: number,
    reconnect = false,
    ackIntervalMs = DEFAULT_ACK_INTERVAL_MS,
  ): Promise<ConnectResult> {
    const shares = splitAmongWorkers(devices, this.workers.length);
    const results = await Promise.all(
      this.workers.map((worker, index) =>
        worker.rpc.call(
          'connect',
          { system, namespace, devices: shares[index], jwtSecret, concurrency: 50, timeoutMs, reconnect, ackIntervalMs },
          timeoutMs * 4 + 60_000,
        ),
      ),
    );
    return {
      connected: results.reduce((sum, result) => sum + result.connected, 0),
      failed: results.reduce((sum, result) => sum + result.failed, 0),
      errors: [...new Set(results.flatMap((result) => result.errors))].slice(0, 5),
    };
  }

  async beginRun(system: SystemName, runId: string, users: number, expectedPerDevice: number): Promise<number> {
    const results = await Promise.all(this.workers.map((worker) => worker.rpc.call('beginRun', { system, runId, users, expectedPerDevice })));
    return results.reduce((sum, result) => sum + result.devices, 0);
  }

  async progress(published: number): Promise<ProgressResult> {
    const results = await Promise.all(this.workers.map((worker) => worker.rpc.call('progress', { published })));
    return {
      expected: results.reduce((sum, result) => sum + result.expected, 0),
      received: results.reduce((sum, result) => sum + result.received, 0),
    };
  }

  async endRun(published: number): Promise<WorkerRunSummary[]> {
    return Promise.all(this.workers.map((worker) => worker.rpc.call('endRun', { published })));
  }

  /** Starts a storm in every worker at once; resolves with the number of clients that were on the instance. */
  async storm(params: StormParams): Promise<number> {
    const results = await Promise.all(this.workers.map((worker) => worker.rpc.call('storm', params)));
    return results.reduce((sum, result) => sum + result.clients, 0);
  }

  /** Clients of the system connected right now, and how many it has. */
  async connected(system: SystemName): Promise<{ connected: number; devices: number }> {
    const results = await Promise.all(this.workers.map((worker) => worker.rpc.call('connected', { system })));
    return { connected: results.reduce((sum, result) => sum + result.connected, 0), devices: results.reduce((sum, result) => sum + result.devices, 0) };
  }

  async disconnect(system: SystemName): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.rpc.call('disconnect', { system })));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        // Closing the channel ends a worker (it exits on disconnect); SIGKILL covers a stuck one.
        child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
