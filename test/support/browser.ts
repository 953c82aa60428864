import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '@herald/edge-config';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './paths.js';
import { waitUntil } from './wait.js';

/** Screenshots of the browser tests (git-ignored, kept after the run: docs/testing.md). */
export const BROWSER_ARTIFACTS_DIR = join(REPO_ROOT, '.tmp/artifacts/browser');

const INSTALL_HINT = 'install it with `bash scripts/system-deps.sh chromium` (Debian package chromium; as root)';

/**
 * Debian's Chromium, headless, driven by playwright-core: no browser download. Fails (never skips) with what to do
 * when the binary is missing or does not start.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findBinary('chromium');
  if (executablePath === undefined) throw new Error(`Chromium is not installed: ${INSTALL_HINT}`);
  try {
    // --no-sandbox: tests run as root (CI and the dev machines), where Chromium's sandbox refuses to start.
    return await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  } catch (error) {
    throw new Error(`Chromium (${executablePath}) could not start: ${error instanceof Error ? error.message : String(error)}\n${INSTALL_HINT}`, { cause: error });
  }
}

/** The few DOM members the page scripts below use (this project's TypeScript has no DOM lib: it is Node code). */
interface PageElement {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  hidden: boolean;
  classList: { contains(name: string): boolean };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
interface PageDocument {
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}

/** What a demo tab shows, read from the DOM. */
export interface DemoView {
  state: string;
  badge: number;
  /** Row ids, top to bottom. */
  ids: string[];
  unreadIds: string[];
  replayed: number | undefined;
  recovered: boolean | undefined;
  moreVisible: boolean;
  message: string;
}

/** One tab of the demo inbox page (apps/demo), with the page's console errors collected. */
export class DemoTab {
  readonly errors: string[] = [];

  private constructor(
    readonly name: string,
    readonly page: Page,
  ) {
    page.on('pageerror', (error) => this.errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(`console: ${message.text()} (${message.location().url})`);
    });
  }

  /** Opens `<baseUrl>/demo/` with the token in the fragment (the page moves it to sessionStorage) and waits until connected. */
  static async open(context: BrowserContext, name: string, baseUrl: string, token: string): Promise<DemoTab> {
    const tab = new DemoTab(name, await context.newPage());
    await tab.page.goto(`${baseUrl}/demo/#token=${encodeURIComponent(token)}`);
    await tab.waitFor((view) => view.state === 'connected', 'connected');
    return tab;
  }

  async view(): Promise<DemoView> {
    return this.page.evaluate(() => {
      // Callbacks of page.evaluate() run in the page: nothing of this module is in scope there.
      const document = (globalThis as unknown as { document: PageDocument }).document;
      const text = (id: string): string => document.getElementById(id)?.textContent ?? '';
      const session = document.getElementById('session');
      const rows = [...document.querySelectorAll('#items > li')];
      const more = document.getElementById('more');
      return {
        state: document.getElementById('state')?.dataset['state'] ?? '',
        badge: Number(document.getElementById('badge')?.dataset['count'] ?? 'NaN'),
        ids: rows.map((row) => row.dataset['id'] ?? ''),
        unreadIds: rows.filter((row) => row.classList.contains('unread')).map((row) => row.dataset['id'] ?? ''),
        replayed: session?.dataset['replayed'] === undefined ? undefined : Number(session.dataset['replayed']),
        recovered: session?.dataset['recovered'] === undefined ? undefined : session.dataset['recovered'] === 'true',
        moreVisible: more !== null && !more.hidden,
        message: text('message'),
      };
    });
  }

  /** Waits until the view satisfies `condition`; the failure shows the last view. */
  async waitFor(condition: (view: DemoView) => boolean, what: string, timeoutMs = 15_000): Promise<DemoView> {
    let last: DemoView | undefined;
    try {
      await waitUntil(
        async () => {
          last = await this.view();
          return condition(last);
        },
        `${this.name}: ${what}`,
        timeoutMs,
        50,
      );
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; it shows ${JSON.stringify(last)}; page errors: ${JSON.stringify(this.errors)}`, {
        cause: error,
      });
    }
    return present(last);
  }

  async click(selector: string): Promise<void> {
    await this.page.click(selector);
  }

  async markRead(id: string): Promise<void> {
    await this.page.click(`#items > li[data-id="${id}"] button.mark-read`);
  }

  /** The text a row shows for its type and data (what a user sees). */
  async rowText(id: string): Promise<{ type: string; data: string; elements: number }> {
    return this.page.evaluate((rowId) => {
      const document = (globalThis as unknown as { document: PageDocument }).document;
      const row = [...document.querySelectorAll('#items > li')].find((li) => li.dataset['id'] === rowId);
      return {
        type: row?.querySelector('strong')?.textContent ?? '',
        data: row?.querySelector('.data')?.textContent ?? '',
        elements: row?.querySelectorAll('*').length ?? 0,
      };
    }, id);
  }

  async screenshot(step: string): Promise<string> {
    mkdirSync(BROWSER_ARTIFACTS_DIR, { recursive: true });
    const path = join(BROWSER_ARTIFACTS_DIR, `${step}-${this.name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }
}

function present<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('no view was read');
  return value;
}
