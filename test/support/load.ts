import { setTimeout as delay } from 'node:timers/promises';
import type { NotifyUserInput } from '@herald/contracts';
import type { DeliveryLedger } from './ledger.js';

/** What a load needs of a publisher: HeraldPublisher's notifyUser (resolves once Redis accepted the command). */
export interface UserNotifier {
  notifyUser(command: NotifyUserInput): Promise<string>;
}

export interface SteadyLoadOptions {
  /** Recipients, round robin: notification i goes to users[i % users.length]. */
  users: readonly string[];
  /** At most this many notifications... */
  count: number;
  /** ...at this rate... */
  ratePerSecond: number;
  /** ...for at most this long (whichever bound comes first). */
  maxDurationMs: number;
  /** Ends the load early when it returns true (checked before each publish), e.g. once a rolling restart is over. */
  until?: () => boolean;
  /** Notification type (default `load`); ids are `<idPrefix>-<i>` (default: the type). */
  type?: string;
  idPrefix?: string;
  /** Records every id tried and every id accepted. */
  ledger?: DeliveryLedger;
  /** How long to wait, after the last publish, for the promises still pending (Redis down...). Default 15 s. */
  settleMs?: number;
  /** Adds `pad: "x" * padBytes` to each notification's data, for loads measured in bytes. */
  padBytes?: number;
  /** Most publishes in flight at once; beyond that the load waits (still bounded by maxDurationMs). Default 2000. */
  maxInFlight?: number;
}

export interface SteadyLoadResult {
  attempted: number;
  /** The publish promise resolved: Redis has the command; every device of the user must get it. */
  accepted: number;
  rejected: number;
  /** Still pending when the load gave up waiting: not expected of anyone. */
  unsettled: number;
  /** The first few rejection messages. */
  errors: string[];
  /** From the first publish to the last. */
  durationMs: number;
  /** Attempted per second over durationMs. */
  achievedRate: number;
}

/**
 * Publishes notifications at a steady rate through the SDK, bounded in count and in time, and records which ones Redis
 * accepted. Each carries `data: { n, seq }`: n counts over the whole load, seq per user, from 1.
 */
export async function publishSteadily(publisher: UserNotifier, options: SteadyLoadOptions): Promise<SteadyLoadResult> {
  const type = options.type ?? 'load';
  const prefix = options.idPrefix ?? type;
  const maxInFlight = options.maxInFlight ?? 2000;
  const perUser = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const result: SteadyLoadResult = { attempted: 0, accepted: 0, rejected: 0, unsettled: 0, errors: [], durationMs: 0, achievedRate: 0 };
  const startedAt = Date.now();
  const deadline = startedAt + options.maxDurationMs;
  const interval = 1000 / options.ratePerSecond;
  // Once the load gave up waiting, a late acceptance is not expected of any device (the test has moved on).
  let closed = false;

  for (let n = 0; n < options.count; n++) {
    const due = startedAt + n * interval;
    if (due > deadline || options.until?.()) break;
    if (due > Date.now()) await delay(due - Date.now());
    while (inFlight.size >= maxInFlight && Date.now() < deadline) await Promise.race([...inFlight, delay(50)]);
    if (Date.now() > deadline || options.until?.()) break;

    const userId = options.users[n % options.users.length];
    const seq = (perUser.get(userId) ?? 0) + 1;
    perUser.set(userId, seq);
    const id = `${prefix}-${n}`;
    options.ledger?.attempt(userId, id);
    result.attempted++;
    const data = options.padBytes === undefined ? { n, seq } : { n, seq, pad: 'x'.repeat(options.padBytes) };
    const publish = publisher.notifyUser({ userId, type, id, data }).then(
      () => {
        if (closed) return;
        result.accepted++;
        options.ledger?.accept(userId, id);
      },
      (error: unknown) => {
        result.rejected++;
        if (result.errors.length < 5) result.errors.push(error instanceof Error ? error.message : String(error));
      },
    );
    const tracked = publish.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  result.durationMs = Date.now() - startedAt;
  result.achievedRate = result.durationMs > 0 ? (result.attempted * 1000) / result.durationMs : 0;

  const settleBy = Date.now() + (options.settleMs ?? 15_000);
  while (inFlight.size > 0 && Date.now() < settleBy) await Promise.race([...inFlight, delay(Math.max(1, Math.min(100, settleBy - Date.now())))]);
  result.unsettled = inFlight.size;
  closed = true;
  return result;
}

/** One line for the test output. */
export function describeLoad(result: SteadyLoadResult): string {
  return (
    `${result.attempted} published in ${(result.durationMs / 1000).toFixed(1)} s (${result.achievedRate.toFixed(0)}/s): ` +
    `${result.accepted} accepted, ${result.rejected} rejected, ${result.unsettled} unsettled` +
    (result.errors.length > 0 ? ` (e.g. ${result.errors[0]})` : '')
  );
}
