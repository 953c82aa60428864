/**
 * Where the client keeps its cursors, so a restarted app (a reloaded tab) resumes where it stopped. Synchronous on
 * purpose: the cursor is written as each notification is processed, and read in the handshake.
 */
export interface CursorStorage {
  get(key: string): string | null | undefined;
  set(key: string, value: string): void;
}

/** The default: cursors live as long as the client object (reconnects resume, a restart does not). */
export class MemoryCursorStorage implements CursorStorage {
  private readonly values = new Map<string, string>();

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  set(key: string, value: string): void {
    this.values.set(key, value);
  }
}

/** The part of the Web Storage API the adapter uses (window.localStorage, sessionStorage, or a stand-in). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * Cursors in a Web Storage (localStorage by default), under `<prefix><key>`. A full or disabled storage (Safari's
 * private mode, a quota) must not break delivery: a failed write is dropped, and the next connect resumes from an
 * older cursor (the client's id check drops what it already showed).
 */
export class WebStorageCursorStorage implements CursorStorage {
  constructor(
    private readonly storage: WebStorageLike,
    private readonly prefix = 'herald:',
  ) {}

  get(key: string): string | null {
    try {
      return this.storage.getItem(this.prefix + key);
    } catch {
      return null;
    }
  }

  set(key: string, value: string): void {
    try {
      this.storage.setItem(this.prefix + key, value);
    } catch {
      // Quota or disabled storage: see above.
    }
  }
}

/** localStorage when this runs in a browser that has one; undefined elsewhere (Node), where memory is the default. */
export function localStorageCursorStorage(prefix?: string): WebStorageCursorStorage | undefined {
  const storage = (globalThis as { localStorage?: WebStorageLike }).localStorage;
  return storage === undefined ? undefined : new WebStorageCursorStorage(storage, prefix);
}

/** The storage keys of one user's cursors: separate per user, so two accounts on one browser never mix positions. */
export function cursorKeys(userId: string): { since: string; broadcastSince: string } {
  const user = encodeURIComponent(userId);
  return { since: `${user}:since`, broadcastSince: `${user}:broadcastSince` };
}
