import { INGEST_LEASE_KEY } from '@herald/contracts';
import type { AllowedError, Fault } from './chaos-run.js';
import type { ChaosTarget } from './chaos-target.js';

/** The gateway holding most devices now (by its herald_connected_sockets). */
async function busiestGateway(target: ChaosTarget): Promise<{ index: number; sockets: number[] }> {
  const sockets = await Promise.all(target.gatewayNames.map((_, index) => target.connectedSockets(index)));
  return { index: sockets.indexOf(Math.max(...sockets)), sockets };
}

/*
 * Allow-lists: every error-level (pino level >= 50) gateway log line a fault may cause, with the reason. A line that
 * is not listed fails the fault, so a new error a fault brings out is seen rather than ignored. Lines at warn level
 * (a session refused while draining, a Redis reconnect) are not errors and need no entry.
 */

/** A graceful restart or redeploy drains: nothing at error level is expected. */
const NONE: readonly AllowedError[] = [];

export const rollingRestart: Fault = {
  id: 'rolling-restart',
  title: 'rolling restart of every gateway (SIGTERM: drain, then start again), one after the other',
  allowedErrors: NONE,
  async run({ target, mark }) {
    for (let index = 0; index < target.gatewayNames.length; index++) {
      mark(`restart ${target.gatewayNames[index]}`);
      await target.restartGateway(index);
    }
  },
};

export const crashBusiest: Fault = {
  id: 'kill-9',
  title: 'kill -9 of the gateway holding most devices, started again by its supervisor',
  allowedErrors: NONE,
  async run({ target, redis, mark }) {
    const { index, sockets } = await busiestGateway(target);
    // Whether it is also the ingest reader (the command stream lease holder): then its last commands wait to be claimed.
    const reader = await redis.command<string | null>('GET', INGEST_LEASE_KEY);
    mark(`kill -9 ${target.gatewayNames[index]} (sockets per gateway ${JSON.stringify(sockets)}; ingest reader ${String(reader)})`);
    await target.crashGateway(index);
  },
};

export const redeployNewBuild: Fault = {
  id: 'redeploy',
  title: '`docker compose up -d` of a new gateway build, one gateway at a time (new containers, new addresses)',
  allowedErrors: NONE,
  async run({ target, mark }) {
    const redeploy = target.redeploy;
    if (redeploy === undefined) throw new Error(`${target.name} has no redeploy`);
    for (let index = 0; index < target.gatewayNames.length; index++) {
      mark(`docker compose up -d --no-deps --wait ${target.gatewayNames[index]} (new image)`);
      await redeploy(index);
    }
  },
};

export const redisRestart: Fault = {
  id: 'redis-restart',
  title: 'graceful restart of Redis (SIGTERM, AOF kept) under load',
  allowedErrors: [
    // Every gateway's Redis connections drop while Redis is away; each role logs its outage once at error level
    // (apps/gateway/src/ops/redis-status.service.ts), then `redis connected` at info when it is back.
    { msg: /^redis \w+ disconnected: /, why: 'Redis stopped: each connection role of each gateway reports its outage' },
  ],
  // Publishes while Redis is away are refused (the SDK's promise rejects): the caller knows, nobody expects them.
  publishesMayFail: true,
  async run({ target, mark }) {
    mark('restart redis');
    await target.restartRedis();
  },
};

export const reconnectStorm: Fault = {
  id: 'reconnect-storm',
  title: 'every device drops its transport at the same moment and reconnects with since',
  allowedErrors: NONE,
  async run({ devices, mark }) {
    mark(`${devices.length} devices drop their transport`);
    for (const device of devices) device.dropTransport();
  },
};

/** The faults, in the order they run; a redeploy of a new build only where addresses can change (compose). */
export function faultsFor(kind: ChaosTarget['name']): Fault[] {
  return kind === 'compose'
    ? [rollingRestart, crashBusiest, redeployNewBuild, redisRestart, reconnectStorm]
    : [rollingRestart, crashBusiest, redisRestart, reconnectStorm];
}
