// The demo inbox (http://127.0.0.1:8080/demo/ under `npm start`): a bell with the unread badge, the inbox with paging,
// mark read, mark all read and the connection state, all through @herald/client. Everything that comes from the server
// or the user is shown with textContent, never parsed as HTML.
import { HeraldClient, compareCursors, localStorageCursorStorage, type ConnectionState } from '@herald/client';
import type { InboxItem, NotificationEnvelope, SessionReadyPayload } from '@herald/contracts';

/** Where the tab keeps its token: sessionStorage, so a reload keeps it and closing the tab forgets it. */
const TOKEN_KEY = 'herald-demo:token';
/** Set when the token came from the development endpoint: the page fetches a fresh one when it runs out. */
const DEV_USER_KEY = 'herald-demo:dev-user';
const DEV_TOKEN_PATH = '/dev/token';
const PAGE_SIZE = 10;
/** A token this close to its expiry is renewed before a connect (development tokens only). */
const RENEW_BEFORE_S = 60;

type Row = { li: HTMLLIElement; button: HTMLButtonElement | undefined; read: boolean; cursor: string; broadcast: boolean };

function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

const ui = {
  user: byId('user', HTMLSpanElement),
  state: byId('state', HTMLSpanElement),
  badge: byId('badge', HTMLSpanElement),
  login: byId('login', HTMLElement),
  tokenForm: byId('token-form', HTMLFormElement),
  tokenInput: byId('token-input', HTMLTextAreaElement),
  devForm: byId('dev-form', HTMLFormElement),
  devUser: byId('dev-user', HTMLInputElement),
  inbox: byId('inbox', HTMLElement),
  markAll: byId('mark-all', HTMLButtonElement),
  signOut: byId('sign-out', HTMLButtonElement),
  session: byId('session', HTMLSpanElement),
  items: byId('items', HTMLUListElement),
  more: byId('more', HTMLButtonElement),
  empty: byId('empty', HTMLParagraphElement),
  message: byId('message', HTMLParagraphElement),
};

/** The claims the page shows or uses; read without verifying (the gateway verifies). */
function claimsOf(token: string): { sub?: string; exp?: number } {
  try {
    const payload = token.split('.')[1] ?? '';
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    if (typeof claims !== 'object' || claims === null) return {};
    const { sub, exp } = claims as Record<string, unknown>;
    return { sub: typeof sub === 'string' ? sub : undefined, exp: typeof exp === 'number' ? exp : undefined };
  } catch {
    return {};
  }
}

function say(text: string): void {
  ui.message.textContent = text;
}

/** A development token from the gateway's dev-only endpoint (same origin: no CORS, no credentials to leak). */
async function fetchDevToken(user: string): Promise<string> {
  const response = await fetch(DEV_TOKEN_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
    credentials: 'omit',
  });
  if (response.status === 404) throw new Error('this Herald hands out no development tokens (it does not run with the development secret): paste a token instead');
  const body: unknown = await response.json().catch(() => undefined);
  const token = typeof body === 'object' && body !== null && 'token' in body && typeof body.token === 'string' ? body.token : undefined;
  if (!response.ok || token === undefined) throw new Error(`the token endpoint answered ${response.status}`);
  return token;
}

class InboxPage {
  private client: HeraldClient | undefined;
  private readonly rows = new Map<string, Row>();
  private next: string | null = null;
  private loaded = false;

  start(): void {
    const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
    if (fromFragment) {
      sessionStorage.setItem(TOKEN_KEY, fromFragment);
      sessionStorage.removeItem(DEV_USER_KEY);
      // Out of the address bar and the history: a token is a credential.
      history.replaceState(null, '', location.pathname + location.search);
    }
    ui.tokenForm.addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, ui.tokenInput.value.trim());
      sessionStorage.removeItem(DEV_USER_KEY);
      ui.tokenInput.value = '';
      this.connect();
    });
    ui.devForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const user = ui.devUser.value.trim();
      fetchDevToken(user).then(
        (token) => {
          sessionStorage.setItem(TOKEN_KEY, token);
          sessionStorage.setItem(DEV_USER_KEY, user);
          this.connect();
        },
        (error: unknown) => say(error instanceof Error ? error.message : String(error)),
      );
    });
    ui.markAll.addEventListener('click', () => void this.client?.markAllRead().catch((error: unknown) => this.failed('mark all read', error)));
    ui.more.addEventListener('click', () => void this.loadPage());
    ui.signOut.addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(DEV_USER_KEY);
      void this.client?.close();
      this.client = undefined;
      this.showLogin();
    });
    // The last delivery acknowledgement goes out before the page does.
    addEventListener('pagehide', () => void this.client?.close());
    if (sessionStorage.getItem(TOKEN_KEY)) this.connect();
    else this.showLogin();
  }

  private showLogin(): void {
    ui.login.hidden = false;
    ui.inbox.hidden = true;
    ui.user.textContent = '';
    this.setState('disconnected');
    this.setBadge(0);
  }

  private connect(): void {
    const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
    ui.user.textContent = claimsOf(token).sub ?? '';
    ui.login.hidden = true;
    ui.inbox.hidden = false;
    say('');
    this.clearRows();
    const client = new HeraldClient({
      url: location.origin,
      token: () => this.currentToken(),
      // Cursors per user in localStorage: a reload resumes where the tabs of this browser stopped.
      storage: localStorageCursorStorage('herald-demo:'),
    });
    this.client = client;
    client.on('state', (state) => this.setState(state));
    client.on('unread', (count) => this.setBadge(count));
    client.on('ready', (ready) => this.onReady(ready));
    client.on('notification', (notification) => this.addRow(notification, 'top'));
    client.on('updated', () => this.refreshReadFlags());
    client.on('error', (error) => say(error.message));
  }

  /** The stored token; a development one is renewed when it is about to expire. */
  private async currentToken(): Promise<string> {
    const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
    const devUser = sessionStorage.getItem(DEV_USER_KEY);
    const exp = claimsOf(token).exp ?? 0;
    if (devUser !== null && exp - Date.now() / 1000 < RENEW_BEFORE_S) {
      const fresh = await fetchDevToken(devUser);
      sessionStorage.setItem(TOKEN_KEY, fresh);
      return fresh;
    }
    return token;
  }

  private onReady(ready: SessionReadyPayload): void {
    ui.session.textContent = `replayed ${ready.replayed}${ready.recovered ? '' : `, gap (${ready.gap?.reason ?? 'unknown'})`}`;
    ui.session.dataset['replayed'] = String(ready.replayed);
    ui.session.dataset['recovered'] = String(ready.recovered);
    // The first connect, or one that may have missed notifications: the list is read again from the server.
    if (!this.loaded || !ready.recovered) {
      this.loaded = true;
      this.clearRows();
      this.next = null;
      void this.loadPage(true);
    }
  }

  private async loadPage(first = false): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    ui.more.disabled = true;
    try {
      const page = await client.list(first || this.next === null ? { limit: PAGE_SIZE } : { before: this.next, limit: PAGE_SIZE });
      for (const item of page.items) this.addRow(item, 'bottom');
      this.next = page.next;
      ui.more.hidden = page.next === null;
      this.updateEmpty();
    } catch (error) {
      this.failed('loading the inbox', error);
    } finally {
      ui.more.disabled = false;
    }
  }

  private addRow(item: NotificationEnvelope | InboxItem, where: 'top' | 'bottom'): void {
    if (this.rows.has(item.id)) return;
    const broadcast = item.feed === 'broadcast';
    const read = broadcast || ('read' in item ? item.read : (this.client?.isRead(item.id) ?? false));
    const li = document.createElement('li');
    li.dataset['id'] = item.id;
    const type = document.createElement('strong');
    type.textContent = item.type;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = `${new Date(item.createdAt).toLocaleString()}${broadcast ? ' · broadcast' : ''}`;
    const data = document.createElement('pre');
    data.className = 'data';
    data.textContent = JSON.stringify(item.data);
    li.append(type, meta, data);
    let button: HTMLButtonElement | undefined;
    if (!broadcast) {
      button = document.createElement('button');
      button.type = 'button';
      button.className = 'mark-read';
      button.textContent = 'Mark read';
      button.addEventListener('click', () => void this.client?.markRead([item.id]).catch((error: unknown) => this.failed('mark read', error)));
      li.append(button);
    }
    const row: Row = { li, button, read: false, cursor: item.cursor, broadcast };
    this.setRead(row, read);
    this.insert(row, where);
    this.rows.set(item.id, row);
    this.updateEmpty();
  }

  /**
   * Newest first, by feed position: a page reply can overtake a live notification, so "live on top, pages below" alone
   * could misplace one. Broadcasts (another feed) and rows of another feed incarnation fall back to `where`.
   */
  private insert(row: Row, where: 'top' | 'bottom'): void {
    let comparable = false;
    if (!row.broadcast) {
      for (const li of ui.items.children) {
        const other = this.rows.get(li instanceof HTMLLIElement ? (li.dataset['id'] ?? '') : '');
        if (other === undefined || other.broadcast) continue;
        const order = compareCursors(row.cursor, other.cursor);
        if (order === undefined) continue;
        comparable = true;
        if (order > 0) {
          li.before(row.li);
          return;
        }
      }
    }
    // Older than every row it can be compared with: below them.
    if (where === 'top' && !comparable) ui.items.prepend(row.li);
    else ui.items.append(row.li);
  }

  private refreshReadFlags(): void {
    for (const [id, row] of this.rows) if (this.client?.isRead(id) === true) this.setRead(row, true);
  }

  private setRead(row: Row, read: boolean): void {
    row.read = read;
    row.li.classList.toggle('unread', !read);
    if (row.button) row.button.hidden = read;
  }

  private clearRows(): void {
    this.rows.clear();
    ui.items.replaceChildren();
    ui.more.hidden = true;
  }

  private updateEmpty(): void {
    ui.empty.hidden = this.rows.size > 0;
  }

  private setState(state: ConnectionState): void {
    ui.state.textContent = state;
    ui.state.dataset['state'] = state;
  }

  private setBadge(count: number): void {
    ui.badge.textContent = count > 99 ? '99+' : String(count);
    ui.badge.hidden = count === 0;
    ui.badge.dataset['count'] = String(count);
  }

  private failed(what: string, error: unknown): void {
    say(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

new InboxPage().start();
