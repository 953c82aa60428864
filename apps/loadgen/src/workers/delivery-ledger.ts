/**
 * Exact loss and duplicate accounting for one device. The coordinator publishes sequence numbers 0..P-1 and
 * sends number `seq` to user `seq % users` (see workload.ts), so each device knows exactly which numbers it must
 * receive without any list being shipped around: those congruent to its user index.
 */
export function expectedFor(userIndex: number, users: number, published: number): number {
  return published > userIndex ? Math.floor((published - 1 - userIndex) / users) + 1 : 0;
}

export interface LedgerSummary {
  expected: number;
  /** Distinct expected notifications received. */
  received: number;
  lost: number;
  /** Extra copies beyond the first. */
  duplicates: number;
  /** Notifications for another user, or numbers never published. */
  misdelivered: number;
}

export type ReceiptVerdict = 'first' | 'duplicate' | 'misdelivered';

export class DeliveryLedger {
  private counts: Uint8Array;
  private distinct = 0;
  private duplicates = 0;
  private misdelivered = 0;

  constructor(
    readonly userIndex: number,
    readonly users: number,
    expectedCapacity = 64,
  ) {
    this.counts = new Uint8Array(Math.max(1, expectedCapacity));
  }

  record(seq: number): ReceiptVerdict {
    if (!Number.isInteger(seq) || seq < 0 || seq % this.users !== this.userIndex) {
      this.misdelivered++;
      return 'misdelivered';
    }
    const slot = (seq - this.userIndex) / this.users;
    if (slot >= this.counts.length) this.grow(slot + 1);
    const seen = this.counts[slot];
    // Saturates at 255: beyond that a duplicate is still counted, only the per-slot tally stops.
    if (seen < 255) this.counts[slot] = seen + 1;
    if (seen === 0) {
      this.distinct++;
      return 'first';
    }
    this.duplicates++;
    return 'duplicate';
  }

  /** Distinct notifications received so far (progress while draining). */
  get receivedDistinct(): number {
    return this.distinct;
  }

  summary(published: number): LedgerSummary {
    const expected = expectedFor(this.userIndex, this.users, published);
    let received = 0;
    let beyond = 0;
    for (let slot = 0; slot < this.counts.length; slot++) {
      if (this.counts[slot] === 0) continue;
      if (slot < expected) received++;
      else beyond++;
    }
    return { expected, received, lost: expected - received, duplicates: this.duplicates, misdelivered: this.misdelivered + beyond };
  }

  private grow(minimum: number): void {
    let size = this.counts.length;
    while (size < minimum) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.counts);
    this.counts = grown;
  }
}
