type Timer = ReturnType<typeof setTimeout>;

/**
 * The SDK's default `ackIntervalMs`. Each acknowledgement costs the gateway about what sending a notification does;
 * at 250 ms a device that gets a notification every second or two acknowledges each one (+22 % gateway CPU per
 * notification in the benchmark), at 1 s about every other one (+6 %): docs/performance.md, phase 7.
 */
export const DEFAULT_ACK_INTERVAL_MS = 1000;

/**
 * Batches delivery acknowledgements: the highest processed cursor is sent at most once per `intervalMs`, only when it
 * moved since the last one sent, and once more on close (`flush()`). One packet per notification would double the
 * socket traffic of a busy feed; the server only needs the highest cursor.
 *
 * Each send waits a random extra of up to half the interval. Devices that get the same notifications at the same
 * moment (a broadcast, a burst to many users, everybody connected at once) would otherwise acknowledge in the same
 * millisecond, every interval: bursts of thousands of packets that stall the gateway's event loop and the latency of
 * everything else (measured: saturation 5,300 vs 8,000/s without acknowledgements, docs/performance.md).
 */
export class AckBatcher {
  private latest: string | undefined;
  private sent: string | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: Timer | undefined;

  /** `send` returns false when it could not send (disconnected): the cursor stays pending for `resume()`. */
  constructor(
    private readonly send: (cursor: string) => boolean,
    private readonly intervalMs: number,
    private readonly now: () => number = () => Date.now(),
    private readonly random: () => number = Math.random,
  ) {}

  /** Everything up to `cursor` (of the user's feed, in feed order) has been processed. */
  processed(cursor: string): void {
    this.latest = cursor;
    this.schedule();
  }

  /** After a reconnect: sends what is still pending. */
  resume(): void {
    this.schedule();
  }

  /** Sends the pending cursor now, whatever the interval (on close). Returns whether it sent one. */
  flush(): boolean {
    this.cancel();
    if (this.latest === undefined || this.latest === this.sent) return false;
    if (!this.send(this.latest)) return false;
    this.sent = this.latest;
    this.lastSentAt = this.now();
    return true;
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.latest === undefined || this.latest === this.sent) return;
    const wait = Math.max(0, this.lastSentAt + this.intervalMs - this.now()) + Math.floor(this.random() * (this.intervalMs / 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }
}
