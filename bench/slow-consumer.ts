/**
 * One device that stops reading while its user gets 2,000 notifications/s of 1 KB, next to 1,000 devices (one user
 * each) that receive 2,000/s between them, on one gateway: the instance's RSS and the others' delivery latency
 * (client-side, createdAt = the publisher's sentAt to receipt), without the stuck device, with it, and with it but the
 * bound lifted (MAX_SOCKET_BUFFER_BYTES = 16 GiB, what the gateway did before), then without it again. Bounded: 4 phases of PHASE_MS each.
 * `npm run build && node dist/bench/slow-consumer.js`; the figures are in docs/performance.md.
 */
import { NOTIFICATIONS_NAMESPACE, type NotificationEnvelope } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import { io, type Socket } from 'socket.io-client';
import { GatewayProcess } from '../test/support/gateway-process.js';
import { publishSteadily } from '../test/support/load.js';
import { MetricsSnapshot } from '../test/support/metrics-scrape.js';
import { RedisServer } from '../test/support/redis-server.js';
import { SilentWebSocketPeer } from '../test/support/silent-peers.js';
import { signToken } from '../test/support/tokens.js';

const OTHERS = 1000;
const RATE = 2000;
const PHASE_MS = 20_000;
const MiB = 1024 * 1024;

interface PhaseResult {
  phase: string;
  rssStartMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  p50: number;
  p99: number;
  max: number;
  received: number;
  expected: number;
  slowEnded: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function phase(name: string, env: Record<string, string>, stuck: boolean): Promise<PhaseResult> {
  const redis = await RedisServer.start();
  const gateway = await GatewayProcess.start({ redisUrl: redis.url, env: { LOG_LEVEL: 'warn', INBOX_MAX_LENGTH: '100000', ...env } });
  const sdk = new HeraldPublisher({ redisUrl: redis.url });
  await sdk.connect();
  const sockets: Socket[] = [];
  let peer: SilentWebSocketPeer | undefined;
  try {
    const latencies: number[] = [];
    let measuring = false;
    for (let index = 0; index < OTHERS; index++) {
      const socket = io(`${gateway.url}${NOTIFICATIONS_NAMESPACE}`, {
        transports: ['websocket'],
        forceNew: true,
        auth: { token: await signToken({ sub: `other-${index}` }) },
      });
      socket.on('notification', (envelope: NotificationEnvelope) => {
        if (measuring) latencies.push(Date.now() - Date.parse(envelope.createdAt));
      });
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
    }
    if (stuck) {
      peer = await SilentWebSocketPeer.connect(gateway.url, await signToken({ sub: 'stuck' }));
      peer.stopReading();
    }
    const before = await MetricsSnapshot.scrape(gateway.url);
    const rssStart = before.value('herald_process_resident_memory_bytes');
    let rssPeak = rssStart;
    const sampler = setInterval(() => {
      void MetricsSnapshot.scrape(gateway.url).then((snapshot) => (rssPeak = Math.max(rssPeak, snapshot.value('herald_process_resident_memory_bytes'))));
    }, 250);
    measuring = true;
    const others = Array.from({ length: OTHERS }, (_, index) => `other-${index}`);
    const count = (RATE * PHASE_MS) / 1000;
    const [load] = await Promise.all([
      publishSteadily(sdk, { users: others, count, ratePerSecond: RATE, maxDurationMs: PHASE_MS, type: 'bench', settleMs: 5000 }),
      // The stuck user's notifications are published either way: only whether a device is stuck changes.
      publishSteadily(sdk, { users: ['stuck'], count, ratePerSecond: RATE, maxDurationMs: PHASE_MS, type: 'bench-stuck', padBytes: 1024, settleMs: 5000 }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    measuring = false;
    clearInterval(sampler);
    const after = await MetricsSnapshot.scrape(gateway.url);
    latencies.sort((a, b) => a - b);
    return {
      phase: name,
      rssStartMiB: rssStart / MiB,
      rssPeakMiB: rssPeak / MiB,
      rssEndMiB: after.value('herald_process_resident_memory_bytes') / MiB,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? NaN,
      received: latencies.length,
      expected: load.accepted,
      slowEnded: after.value('herald_sessions_ended_total', { reason: 'slow_consumer' }),
    };
  } finally {
    peer?.destroy();
    for (const socket of sockets) socket.disconnect();
    await sdk.close();
    await gateway.stop();
    await redis.stop();
  }
}

const results: PhaseResult[] = [];
results.push(await phase('no stuck device', {}, false));
results.push(await phase('stuck device, bound 1 MiB (default)', {}, true));
results.push(await phase('stuck device, no bound (16 GiB)', { MAX_SOCKET_BUFFER_BYTES: String(16 * 1024 * MiB) }, true));
// Again at the end: on a shared machine the spread between two runs of the same phase is the noise.
results.push(await phase('no stuck device (again)', {}, false));
console.log('| phase | RSS start | RSS peak | RSS end | others p50 | others p99 | others max | others received / accepted | slow_consumer ends |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.phase} | ${r.rssStartMiB.toFixed(0)} MiB | ${r.rssPeakMiB.toFixed(0)} MiB | ${r.rssEndMiB.toFixed(0)} MiB | ${r.p50} ms | ${r.p99} ms | ${r.max} ms | ${r.received} / ${r.expected} | ${r.slowEnded} |`,
  );
}
process.exit(0);
