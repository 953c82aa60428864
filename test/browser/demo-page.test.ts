import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { DEV_TOKEN_PATH, DEVELOPMENT_JWT_SECRET } from '@herald/contracts';
import {
  BROWSER_ARTIFACTS_DIR,
  DemoTab,
  cleanUp,
  launchChromium,
  present,
  signToken,
  startDurable,
  startTopology,
  type DurableSetup,
  type Topology,
} from '@herald/testing';

const USER = 'browser-user';

/**
 * The demo inbox page (apps/demo, @herald/client bundled by esbuild) in headless Chromium, through nginx in front of
 * three gateways: two tabs of one user, live notifications, reads that reach the other tab, reloads that resume.
 * Screenshots of every step land in .tmp/artifacts/browser/.
 */
describe('the demo inbox page in a real browser', () => {
  let setup: DurableSetup | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let baseUrl: string;
  let token: string;
  const tabs: DemoTab[] = [];

  const publish = async (id: string, data: unknown = { text: `hello ${id}` }, type = 'demo'): Promise<void> => {
    await present(setup, 'the running Herald').sdk.notifyUser({ userId: USER, type, data, id });
  };
  const unique = (ids: readonly string[]): boolean => new Set(ids).size === ids.length;

  before(async () => {
    setup = await startDurable({ gateways: 3, nginx: true });
    baseUrl = present(setup.topology.nginx, 'nginx').url;
    const page = await fetch(`${baseUrl}/demo/`);
    assert.equal(page.status, 200, `nginx does not serve the demo page at /demo/ (is dist/demo built? npm run build): ${page.status}`);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    // These gateways run with the test secret: no development tokens.
    const devToken = await fetch(`${baseUrl}${DEV_TOKEN_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"x"}' });
    assert.equal(devToken.status, 404);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    token = await signToken({ sub: USER });
  });

  after(async () => {
    // Closing the browser closes its contexts and pages.
    await browser?.close().catch(() => undefined);
    await cleanUp(setup?.sdk, setup?.redis, setup?.topology);
  });

  it('shows a notification in both tabs, and a read in one moves the badge in the other', async () => {
    const a = await DemoTab.open(context, 'tab-a', baseUrl, token);
    const b = await DemoTab.open(context, 'tab-b', baseUrl, token);
    tabs.push(a, b);
    await a.screenshot('01-empty');

    await publish('n1');
    await publish('n2');
    for (const tab of [a, b]) {
      const view = await tab.waitFor((v) => v.ids.join() === 'n2,n1' && v.badge === 2, 'n1 and n2, badge 2');
      assert.deepEqual(view.unreadIds, ['n2', 'n1']);
    }
    await a.screenshot('02-two-unread');

    await a.markRead('n1');
    const other = await b.waitFor((v) => v.badge === 1 && v.unreadIds.join() === 'n2', 'the read made in tab a');
    assert.deepEqual(other.ids, ['n2', 'n1']);
    await a.waitFor((v) => v.badge === 1 && v.unreadIds.join() === 'n2', 'its own read');
    await b.screenshot('03-read-in-other-tab');

    await b.click('#mark-all');
    await a.waitFor((v) => v.badge === 0 && v.unreadIds.length === 0, 'mark all read from tab b');
    await b.waitFor((v) => v.badge === 0 && v.unreadIds.length === 0, 'mark all read');
    await a.screenshot('04-all-read');
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('shows what the data says as text, never as markup', async () => {
    const [a] = tabs;
    const tab = present(a, 'tab a');
    await publish('xss', { html: '<img src=x onerror="document.title=\'owned\'">' }, '<b>bold</b>');
    await tab.waitFor((v) => v.ids[0] === 'xss', 'the notification with markup');
    const row = await tab.rowText('xss');
    assert.equal(row.type, '<b>bold</b>');
    assert.match(row.data, /<img src=x onerror=/);
    // strong, span, pre and the button: no element came from the data.
    assert.equal(row.elements, 4);
    assert.notEqual(await tab.page.title(), 'owned');
    await tab.screenshot('05-markup-as-text');
  });

  it('resumes after a reload without duplicates, and replays what was published while away', async () => {
    const [a, b] = tabs;
    const tabA = present(a, 'tab a');
    const tabB = present(b, 'tab b');
    await tabB.page.reload();
    const reloaded = await tabB.waitFor((v) => v.state === 'connected' && v.ids.length === 3, 'the reloaded tab');
    assert.deepEqual(reloaded.ids, ['xss', 'n2', 'n1']);
    assert.equal(reloaded.replayed, 0, 'the stored cursor was current: nothing to replay');
    assert.equal(reloaded.recovered, true);
    assert.equal(reloaded.badge, 1, 'only xss is unread');

    // Tab a closes (its last ack goes out), tab b leaves the page; n3 is published while no tab is open.
    await tabA.page.close({ runBeforeUnload: true });
    await tabB.page.goto('about:blank');
    await publish('n3');
    await tabB.page.goBack();
    const resumed = await tabB.waitFor((v) => v.state === 'connected' && v.ids.includes('n3'), 'the resumed tab');
    assert.equal(resumed.replayed, 1, 'resumed from the stored cursor: n3 was replayed');
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.ids, ['n3', 'xss', 'n2', 'n1']);
    assert.equal(resumed.badge, 2);
    await tabB.screenshot('06-resumed');
    assert.deepEqual(tabB.errors, []);
  });

  it('pages with "load more" and keeps every id once', async () => {
    const tab = present(tabs[1], 'tab b');
    for (let n = 4; n <= 14; n++) await publish(`n${n}`);
    await tab.waitFor((v) => v.ids.length === 15 && v.badge === 13, '15 rows, 13 unread');
    await tab.page.reload();
    const first = await tab.waitFor((v) => v.state === 'connected' && v.ids.length === 10, 'the first page');
    assert.equal(first.moreVisible, true);
    assert.equal(first.badge, 13);
    await tab.click('#more');
    const all = await tab.waitFor((v) => v.ids.length === 15 && !v.moreVisible, 'the second page');
    assert.ok(unique(all.ids), `duplicates: ${all.ids.join()}`);
    assert.deepEqual(all.ids, ['n14', 'n13', 'n12', 'n11', 'n10', 'n9', 'n8', 'n7', 'n6', 'n5', 'n4', 'n3', 'xss', 'n2', 'n1']);
    await tab.screenshot('07-paged');
    assert.deepEqual(tab.errors, []);
  });
});

describe('the demo page signs in with a development token when the gateways run with the development secret', () => {
  let topology: Topology | undefined;
  let browser: Browser | undefined;

  before(async () => {
    topology = await startTopology({ gateways: 1, nginx: true, gatewayEnv: { JWT_SECRET: DEVELOPMENT_JWT_SECRET, DEV_TOKEN_ENDPOINT: 'true' } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await topology?.stop();
  });

  it('gets a token for the user typed in from POST /dev/token and connects', async () => {
    const page = await present(browser, 'the browser').newPage();
    await page.goto(`${present(topology?.nginx, 'nginx').url}/demo/`);
    await page.fill('#dev-user', 'dev-user-1');
    await page.click('#dev-form button[type=submit]');
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 15_000 });
    assert.equal(await page.textContent('#user'), 'dev-user-1');
    mkdirSync(BROWSER_ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(BROWSER_ARTIFACTS_DIR, '08-dev-token-sign-in.png') });
  });
});
