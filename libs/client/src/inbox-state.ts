import type { InboxUpdatedPayload, SessionReadyPayload } from '@herald/contracts';
import { compareCursors } from './cursor-order.js';

/**
 * The unread badge and the read flag of each notification the device knows, kept from events only (they are ordered
 * with the notifications; request replies are not):
 * - `session.ready` sets the badge to its `unread`, exact at its `cursor`;
 * - each user-feed notification after that (one the device did not have) adds one;
 * - `inbox.updated` arrives when the device stands exactly at its `cursor`: the badge becomes its `unread`, and the
 *   notifications in `ids`, or at or before `readUpTo`, are read.
 */
export class InboxState {
  private count = 0;
  private ready = false;
  private upTo: string | null = null;
  /** id -> cursor and read flag of the notifications the device knows (delivered or listed), oldest dropped first. */
  private readonly known = new Map<string, { cursor: string; read: boolean }>();

  constructor(private readonly capacity: number) {}

  get unread(): number {
    return this.count;
  }

  /** Whether a session.ready was seen: before it the badge is not known. */
  get isReady(): boolean {
    return this.ready;
  }

  get readUpTo(): string | null {
    return this.upTo;
  }

  onReady(payload: SessionReadyPayload): void {
    this.ready = true;
    this.count = payload.unread;
    this.setReadUpTo(payload.readUpTo);
  }

  /** A new user-feed notification; replayed ones before session.ready are already in its count. */
  onNotification(id: string, cursor: string): void {
    if (this.ready) this.count++;
    this.remember(id, cursor, this.coveredByReadUpTo(cursor));
  }

  /** Returns the ids of known notifications that became read. */
  onUpdated(payload: InboxUpdatedPayload): string[] {
    this.count = payload.unread;
    const read = this.setReadUpTo(payload.readUpTo);
    for (const id of payload.ids ?? []) {
      const item = this.known.get(id);
      if (item !== undefined && !item.read) {
        item.read = true;
        read.push(id);
      }
    }
    return read;
  }

  /** A listed notification: read when the server says so or an event already did. Returns the merged flag. */
  onListed(id: string, cursor: string, read: boolean): boolean {
    const merged = read || this.known.get(id)?.read === true || this.coveredByReadUpTo(cursor);
    this.remember(id, cursor, merged);
    return merged;
  }

  /** The read flag of a known notification; undefined for one the device does not know. */
  isRead(id: string): boolean | undefined {
    return this.known.get(id)?.read;
  }

  private setReadUpTo(readUpTo: string | null): string[] {
    this.upTo = readUpTo;
    const read: string[] = [];
    if (readUpTo === null) return read;
    for (const [id, item] of this.known) {
      if (!item.read && this.coveredByReadUpTo(item.cursor)) {
        item.read = true;
        read.push(id);
      }
    }
    return read;
  }

  /** Whether `cursor` is at or before readUpTo (positions of different incarnations of a feed are not comparable). */
  private coveredByReadUpTo(cursor: string): boolean {
    if (this.upTo === null) return false;
    const order = compareCursors(cursor, this.upTo);
    return order !== undefined && order <= 0;
  }

  private remember(id: string, cursor: string, read: boolean): void {
    const before = this.known.get(id)?.read === true;
    // Re-inserted, so the map's order stays "least recently seen first" for eviction.
    this.known.delete(id);
    this.known.set(id, { cursor, read: read || before });
    if (this.known.size > this.capacity) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
  }
}
