import assert from 'node:assert/strict';
import type { NotificationEnvelope } from '@herald/contracts';

/** Writes a multi-line text to the test output, one diagnostic per line (node:test escapes newlines inside one). */
export function diagnoseLines(t: { diagnostic(message: string): void }, text: string): void {
  for (const line of text.split('\n')) t.diagnostic(line);
}

/** What a ledger needs of a device: the user whose feed it follows and everything it received, in order. */
export interface LedgerDevice {
  readonly name: string;
  readonly userId: string;
  readonly notifications: readonly NotificationEnvelope[];
}

export interface LedgerRow {
  device: string;
  user: string;
  /** Accepted notifications for the device's user, from when it was tracked. */
  expected: number;
  /** Distinct expected notifications received. */
  received: number;
  /** expected − received. */
  lost: number;
  /** Copies beyond the first, of any notification this ledger published (over all the device's connections). */
  duplicated: number;
  /** First receipts that came after one later in the reference order (the feed's order). */
  outOfOrder: number;
  /** Notifications published for another user. */
  misdelivered: number;
  /** Published for this user but never accepted (the publish failed, yet Redis may have stored it): allowed, shown. */
  unconfirmed: number;
  /** Some lost ids, for the failure message. */
  lostSample: string[];
}

interface Tracked {
  device: LedgerDevice;
  /** How many of the user's accepted ids were accepted before tracking began (not expected of this device). */
  acceptedBefore: number;
}

/**
 * Exact loss, duplicate and order accounting per device, like the benchmark's (apps/loadgen/src/workers/delivery-ledger.ts),
 * but by notification id: publishers record each id they try (`attempt`) and each one Redis accepted (`accept`, when
 * the SDK's promise resolved). A device is expected to receive every id accepted for its user after it was tracked;
 * ids that were tried but never confirmed may arrive or not. Only ids this ledger knows are counted: barriers and the
 * like are ignored.
 */
export class DeliveryLedger {
  private readonly userOf = new Map<string, string>();
  private readonly acceptedByUser = new Map<string, string[]>();
  private readonly acceptedIds = new Set<string>();
  private readonly tracked: Tracked[] = [];

  attempt(userId: string, id: string): void {
    this.userOf.set(id, userId);
  }

  accept(userId: string, id: string): void {
    this.userOf.set(id, userId);
    if (this.acceptedIds.has(id)) return;
    this.acceptedIds.add(id);
    let list = this.acceptedByUser.get(userId);
    if (!list) this.acceptedByUser.set(userId, (list = []));
    list.push(id);
  }

  /** Accepted ids of a user, in acceptance order. */
  accepted(userId: string): readonly string[] {
    return this.acceptedByUser.get(userId) ?? [];
  }

  get acceptedCount(): number {
    return this.acceptedIds.size;
  }

  get users(): string[] {
    return [...new Set(this.tracked.map((entry) => entry.device.userId))];
  }

  /** From now on, the device must receive every notification accepted for its user. */
  track(device: LedgerDevice): void {
    this.tracked.push({ device, acceptedBefore: this.accepted(device.userId).length });
  }

  /** True once every tracked device received every id expected of it. */
  complete(): boolean {
    return this.rows().every((row) => row.lost === 0);
  }

  /**
   * One row per tracked device. `order` gives the reference order of a user's notification ids (the feed, read from
   * Redis); without it, the order in which Redis accepted them.
   */
  rows(order?: ReadonlyMap<string, readonly string[]>): LedgerRow[] {
    return this.tracked.map(({ device, acceptedBefore }) => {
      const user = device.userId;
      const expected = this.accepted(user).slice(acceptedBefore);
      const expectedSet = new Set(expected);
      const reference = order?.get(user) ?? this.accepted(user);
      const rank = new Map(reference.map((id, index) => [id, index]));
      const counts = new Map<string, number>();
      let duplicated = 0;
      let outOfOrder = 0;
      let misdelivered = 0;
      let unconfirmed = 0;
      let highest = -1;
      for (const envelope of device.notifications) {
        const owner = this.userOf.get(envelope.id);
        if (owner === undefined || envelope.feed === 'broadcast') continue;
        if (owner !== user) {
          misdelivered++;
          continue;
        }
        const seen = counts.get(envelope.id) ?? 0;
        counts.set(envelope.id, seen + 1);
        if (seen > 0) {
          duplicated++;
          continue;
        }
        if (!this.acceptedIds.has(envelope.id)) unconfirmed++;
        const position = rank.get(envelope.id);
        if (position === undefined) continue;
        if (position < highest) outOfOrder++;
        else highest = position;
      }
      const missing = expected.filter((id) => !counts.has(id));
      return {
        device: device.name,
        user,
        expected: expectedSet.size,
        received: expectedSet.size - missing.length,
        lost: missing.length,
        duplicated,
        outOfOrder,
        misdelivered,
        unconfirmed,
        lostSample: missing.slice(0, 5),
      };
    });
  }

  /**
   * A table for the test output: totals, then every device with a problem (at most `limit`), or the first few
   * devices when there is none.
   */
  static table(rows: readonly LedgerRow[], limit = 20): string {
    const columns = ['device', 'user', 'expected', 'received', 'lost', 'duplicated', 'outOfOrder', 'misdelivered', 'unconfirmed'] as const;
    const sum = (key: 'expected' | 'received' | 'lost' | 'duplicated' | 'outOfOrder' | 'misdelivered' | 'unconfirmed') =>
      rows.reduce((total, row) => total + row[key], 0);
    const bad = rows.filter((row) => row.lost + row.duplicated + row.outOfOrder + row.misdelivered > 0);
    // Every device with a problem up to the limit; when all are clean, a few as a sample.
    const shown = (bad.length > 0 ? bad : rows).slice(0, bad.length > 0 ? limit : Math.min(limit, 5));
    const total = {
      device: `TOTAL (${rows.length} devices)`,
      user: `${new Set(rows.map((row) => row.user)).size} users`,
      expected: sum('expected'),
      received: sum('received'),
      lost: sum('lost'),
      duplicated: sum('duplicated'),
      outOfOrder: sum('outOfOrder'),
      misdelivered: sum('misdelivered'),
      unconfirmed: sum('unconfirmed'),
    };
    const lines = [...shown, total].map((row) => columns.map((column) => String(row[column])));
    const widths = columns.map((column, index) => Math.max(column.length, ...lines.map((line) => line[index].length)));
    const format = (cells: readonly string[]) => cells.map((cell, index) => cell.padEnd(widths[index])).join(' | ');
    const out = [format(columns), widths.map((width) => '-'.repeat(width)).join('-|-'), ...lines.slice(0, -1).map(format), format(lines[lines.length - 1])];
    if (shown.length < (bad.length > 0 ? bad : rows).length)
      out.splice(out.length - 1, 0, `... ${(bad.length > 0 ? bad : rows).length - shown.length} more ${bad.length > 0 ? 'devices with problems' : 'devices'}`);
    for (const row of bad.slice(0, 5)) if (row.lostSample.length > 0) out.push(`${row.device} lost e.g. ${row.lostSample.join(', ')}`);
    return out.join('\n');
  }

  /** Asserts zero lost, duplicated, out-of-order and misdelivered on every device; the message holds the table. */
  static assertClean(rows: readonly LedgerRow[], what: string): void {
    assert.ok(rows.length > 0, `${what}: no device tracked`);
    assert.ok(
      rows.some((row) => row.expected > 0),
      `${what}: no device expected anything: the ledger proves nothing\n${DeliveryLedger.table(rows)}`,
    );
    const problems = rows.filter((row) => row.lost + row.duplicated + row.outOfOrder + row.misdelivered > 0);
    assert.equal(
      problems.length,
      0,
      `${what}: ${problems.length} device(s) with lost, duplicated, out-of-order or misdelivered notifications\n${DeliveryLedger.table(rows)}`,
    );
  }
}
