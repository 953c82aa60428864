// setTimeout fires at once for delays above 2^31-1 ms; a bucket further away is re-armed when this much has passed.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `onExpired(item)` once an item's expiry time (epoch ms) has passed, within a second after it.
 * Items are kept in buckets of one second with one timer per bucket, instead of a timer (and its closure) per item:
 * sessions expiring in the same second share one. JWT `exp` is in whole seconds, so a token's session still ends
 * right at its `exp`.
 */
export class ExpiryScheduler<T> {
  /** End of the bucket (epoch ms, a whole second) → items due by then. */
  private readonly buckets = new Map<number, Set<T>>();
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly expiresAtOf: (item: T) => number,
    private readonly onExpired: (item: T) => void,
    /** A failing onExpired must neither skip the rest of its bucket nor throw out of a timer (that kills the process). */
    private readonly onError: (error: unknown, item: T) => void,
  ) {}

  /** Items waiting for their expiry. */
  get size(): number {
    let total = 0;
    for (const bucket of this.buckets.values()) total += bucket.size;
    return total;
  }

  schedule(item: T): void {
    const due = bucketOf(this.expiresAtOf(item));
    const bucket = this.buckets.get(due);
    if (bucket) {
      bucket.add(item);
      return;
    }
    this.buckets.set(due, new Set([item]));
    this.arm(due);
  }

  cancel(item: T): void {
    const due = bucketOf(this.expiresAtOf(item));
    const bucket = this.buckets.get(due);
    if (!bucket?.delete(item) || bucket.size > 0) return;
    this.buckets.delete(due);
    clearTimeout(this.timers.get(due));
    this.timers.delete(due);
  }

  private arm(due: number): void {
    const remaining = due - Date.now();
    const timer = setTimeout(() => (remaining > MAX_TIMER_MS ? this.arm(due) : this.expire(due)), Math.max(0, Math.min(remaining, MAX_TIMER_MS)));
    // Sessions end at shutdown anyway; an expiry must never be what keeps the process alive.
    timer.unref();
    this.timers.set(due, timer);
  }

  private expire(due: number): void {
    const bucket = this.buckets.get(due);
    this.buckets.delete(due);
    this.timers.delete(due);
    // onExpired may cancel (a disconnect handler does): the bucket is already out of the map, so that is a no-op.
    for (const item of bucket ?? []) {
      try {
        this.onExpired(item);
      } catch (error) {
        this.onError(error, item);
      }
    }
  }
}

/** The whole second at or after `expiresAt`: the bucket never fires before an item's expiry. */
const bucketOf = (expiresAt: number): number => Math.ceil(expiresAt / 1000) * 1000;
