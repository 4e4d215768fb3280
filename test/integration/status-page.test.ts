// The status page in a real browser (Debian's Chromium driven by playwright-core): an
// endpoint turns failing when its receiver does, the attempts view shows the receiver's
// answer, test, pause, resume and dead-letter replay work from the buttons, and the page
// fits a phone screen. The test saves the screenshot the README shows (docs/).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chromium, type BrowserServer, type Page } from 'playwright-core';
import { closedAfterTests, envelope, pushEvent, waitUntil } from '../support/helpers.ts';
import { natsSkip, requireNats, startNats } from '../support/nats-process.ts';
import { spawnRelay, type RelayProcess } from '../support/relay-process.ts';

const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
/** CI installs chromium (.ci/run) and requires it; elsewhere a missing browser skips. */
const browserSkip =
  !existsSync(CHROMIUM) && process.env['CI'] !== 'true'
    ? `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_BIN)`
    : false;
const SCREENSHOT = new URL('../../docs/status-page.png', import.meta.url);
const TOKEN = 'status-page-token';

const scope = closedAfterTests();
let server: BrowserServer | undefined;
let relay: RelayProcess | undefined;
const others: RelayProcess[] = [];
after(async () => {
  // The browser goes whatever happens to the relays: a browser left running would keep
  // this test file from ever ending.
  try {
    await relay?.kill('SIGKILL');
    for (const r of others) await r.kill('SIGKILL');
  } finally {
    await closeBrowser();
  }
});

async function closeBrowser(): Promise<void> {
  const pid = server?.process().pid;
  await server?.close().catch(() => undefined);
  // Killed by its own pid whatever close() did.
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('status page', { skip: browserSkip }, () => {
  it('shows failing endpoints, attempts, and drives test, pause, resume and replay', async () => {
    const failing = new Set<string>(['/audit']);
    const rx = await scope.receiver((req, res) => {
      if (failing.has(req.url)) res.writeHead(500).end('database is down');
      else res.writeHead(200).end('ok');
    });
    const dir = mkdtempSync(join(tmpdir(), 'relay-page-'));
    relay = await spawnRelay(
      {
        http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } },
        storage: { path: join(dir, 'data') },
        notifications: {
          endpoints: [
            {
              name: 'ci',
              url: `http://127.0.0.1:${String(rx.port)}/ci`,
              threshold: 1,
              backoff: '300ms',
            },
            {
              name: 'audit',
              url: `http://127.0.0.1:${String(rx.port)}/audit`,
              backoff: '50ms',
              retry: { maxAttempts: 2 },
            },
            {
              name: 'chat',
              url: `http://127.0.0.1:${String(rx.port)}/chat`,
              filter: { repositories: ['chat/**'] },
              rateLimit: { requests: 1, per: '1h' },
            },
          ],
        },
      },
      dir,
    );
    const ingest = relay.ingest;
    const post = async (...events: Record<string, unknown>[]) => {
      const res = await fetch(`${ingest}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: envelope(...events),
      });
      assert.equal(res.status, 202);
    };
    const to = (path: string) => rx.requests.filter((r) => r.url === path);

    server = await chromium.launchServer({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const browser = await chromium.connect(server.wsEndpoint());
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(relay?.debug ?? '')) external.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    await page.goto(relay.debug);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.textContent('#mode')) ?? '', /Enter an admin token/);
    assert.equal(await page.isDisabled('[data-endpoint="ci"] [data-action="pause"]'), true);
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#mode:has-text("Signed in")');

    const card = (name: string) => page.locator(`article[data-endpoint="${name}"]`);
    const healthOf = (name: string) => card(name).getAttribute('data-health');
    await post(pushEvent());
    await waitUntil(() => to('/ci').length === 1, 5000, 'first event delivered to ci');
    await waitFor(page, async () => (await healthOf('ci')) === 'healthy', 'ci healthy');

    // The receiver starts failing: the card turns failing within seconds.
    failing.add('/ci');
    await post(pushEvent());
    await waitFor(page, async () => (await healthOf('ci')) === 'failing', 'ci failing');
    assert.match(
      (await card('ci').locator('[data-testid="last-failure"]').textContent()) ?? '',
      /500/,
    );

    // The attempts view shows the 500 and what the receiver said.
    await card('ci').locator('[data-action="attempts"]').click();
    const failed = page.locator('#attempts li[data-result="failure"]').first();
    await failed.waitFor();
    await failed.locator('summary').click();
    assert.equal(await failed.locator('[data-testid="attempt-status"]').textContent(), '500');
    assert.equal(
      await failed.locator('[data-testid="response-body"]').textContent(),
      'database is down',
    );

    // Test-send shows the receiver's answer, failing and then fine.
    await card('ci').locator('[data-action="test"]').click();
    await page.waitForSelector('#message:has-text("test ci: failed")');
    assert.match((await page.textContent('#message')) ?? '', /500/);
    failing.delete('/ci');
    await card('ci').locator('[data-action="test"]').click();
    await page.waitForSelector('#message:has-text("test ci: ok")');
    await waitFor(page, async () => (await healthOf('ci')) === 'healthy', 'ci healthy again');

    // Pause stops deliveries; the backlog fills; resume delivers it.
    await card('ci').locator('[data-action="pause"]').click();
    await waitFor(page, async () => (await healthOf('ci')) === 'paused', 'ci paused');
    const before = to('/ci').length;
    const held = [pushEvent(), pushEvent(), pushEvent()];
    await post(...held);
    await waitFor(
      page,
      async () => (await card('ci').locator('[data-testid="pending"]').textContent()) === '3',
      'three pending',
    );
    assert.equal(to('/ci').length, before, 'nothing sent while paused');
    await card('ci').locator('[data-action="resume"]').click();
    await waitUntil(() => to('/ci').length === before + 3, 5000, 'backlog delivered on resume');
    await waitFor(
      page,
      async () => (await card('ci').locator('[data-testid="pending"]').textContent()) === '0',
      'nothing pending',
    );

    // Audit gave up on every event after 2 attempts: replay them once it is back.
    await waitFor(
      page,
      async () =>
        (await page
          .locator('#dead tr[data-endpoint="audit"] [data-testid="dead-count"]')
          .textContent()) === '5',
      'five dead letters of audit',
    );
    failing.delete('/audit');
    const delivered = to('/audit').length;
    await card('audit').locator('[data-action="replay"]').click();
    await page.waitForSelector('#message:has-text("replayed 5 dead letters of audit")');
    await waitUntil(() => to('/audit').length === delivered + 5, 10_000, 'replayed to audit');

    // The screenshot the README shows: a failing endpoint beside a healthy one.
    failing.add('/audit');
    await post(pushEvent());
    await waitFor(page, async () => (await healthOf('audit')) === 'failing', 'audit failing');
    await card('audit').locator('[data-action="attempts"]').click();
    await page.locator('#attempts li[data-result="failure"]').first().waitFor();
    await page.locator('#attempts li[data-result="failure"] summary').first().click();
    mkdirSync(new URL('..', SCREENSHOT), { recursive: true });
    // Strings: the page's code runs in the browser, not in this file's (Node) types.
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true });

    // One request an hour: the first of three goes, the others wait, and the card says so.
    const chat = (tag: string) =>
      pushEvent({
        target: {
          repository: 'chat/bot',
          tag,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${'a'.repeat(64)}`,
        },
      });
    await post(chat('1'), chat('2'), chat('3'));
    await waitUntil(() => to('/chat').length === 1, 5000, 'the first event to chat');
    await waitFor(page, async () => (await healthOf('chat')) === 'limited', 'chat rate-limited');
    assert.equal(await card('chat').locator('[data-testid="state"]').textContent(), 'rate-limited');
    assert.equal(
      await card('chat').locator('[data-testid="rate-limit"]').textContent(),
      '1/3600 s · 1 waiting',
    );
    assert.equal(to('/chat').length, 1, 'the others wait for the next token');

    // A phone: nothing wider than the screen, the buttons within reach.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = Number(
      await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'),
    );
    assert.ok(overflow <= 0, `the page is ${String(overflow)} px wider than a phone`);
    const pause = await card('ci').locator('[data-action="pause"]').boundingBox();
    assert.ok(pause && pause.x >= 0 && pause.x + pause.width <= 390, 'pause button on screen');

    assert.deepEqual(external, [], 'the page fetched nothing from elsewhere');
    assert.deepEqual(errors, [], 'no script errors');
    await browser.close();
  });

  it('with several relays on JetStream, lists each of them', { skip: natsSkip }, async () => {
    const rx = await scope.receiver();
    const nats = await startNats(requireNats());
    const config = {
      http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0', auth: { tokens: [TOKEN] } } },
      storage: { nats: { servers: nats.urls, stream: 'page' } },
      notifications: { endpoints: [{ name: 'ci', url: rx.url }] },
    };
    const dir = () => mkdtempSync(join(tmpdir(), 'relay-page-nats-'));
    const a = await spawnRelay(config, dir());
    const b = await spawnRelay(config, dir());
    others.push(a, b);
    server ??= await chromium.launchServer({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const browser = await chromium.connect(server.wsEndpoint());
    const page = await browser.newPage();
    await page.goto(a.debug);
    await page.waitForSelector('body[data-ready="true"]');
    // Relays report every 5 s; the page looks every 5 s.
    await waitFor(
      page,
      async () => (await page.locator('#instances tr').count()) === 3,
      'a header and two relays',
      30_000,
    );
    const rows = await page.locator('#instances tr').allTextContents();
    assert.ok(
      rows.some((r) => r.includes(`:${String(a.pid)}`) && r.includes('this one')),
      rows.join(' | '),
    );
    assert.ok(
      rows.some((r) => r.includes(`:${String(b.pid)}`) && r.includes('ci: delivering')),
      rows.join(' | '),
    );
    await browser.close();
    assert.equal(await a.kill('SIGTERM'), 0);
    assert.equal(await b.kill('SIGTERM'), 0);
    await nats.stop();
  });

  it('shows each registry facts are read from, and why one fails', async () => {
    const rx = await scope.receiver();
    const dir = mkdtempSync(join(tmpdir(), 'relay-page-registries-'));
    const r = await spawnRelay(
      {
        http: { addr: '127.0.0.1:0', debug: { addr: '127.0.0.1:0' } },
        registries: [
          {
            name: 'gone',
            url: 'http://127.0.0.1:1',
            hosts: ['registry.example.com'],
            wait: '1s',
            reconcile: { interval: '1h' },
          },
        ],
        notifications: { endpoints: [{ name: 'ci', url: rx.url, enrich: true }] },
      },
      dir,
    );
    others.push(r);
    const res = await fetch(`${r.ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: envelope(pushEvent({ request: { host: 'registry.example.com' } })),
    });
    assert.equal(res.status, 202);
    await waitUntil(() => rx.requests.length === 1, 10_000, 'the event delivered without facts');
    server ??= await chromium.launchServer({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const browser = await chromium.connect(server.wsEndpoint());
    const page = await browser.newPage();
    await page.goto(r.debug);
    await page.waitForSelector('body[data-ready="true"]');
    const row = page.locator('#registries tr[data-registry="gone"]');
    assert.equal(await row.locator('[data-testid="registry-state"]').textContent(), 'failing');
    assert.match((await row.textContent()) ?? '', /unreachable/);
    // Its walk failed too (the catalog could not be listed), and says when the next is due.
    assert.match(
      (await row.locator('[data-testid="registry-reconcile"]').textContent()) ?? '',
      /failed.*next/,
    );
    await browser.close();
    assert.equal(r.logs().filter((l) => Number(l['level']) >= 50).length, 0, 'no error logged');
  });
});

/** Polls a condition about the page (which refreshes itself every two seconds). */
async function waitFor(
  page: Page,
  ok: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) {
      throw new Error(`status page: timed out waiting for ${what}: ${await page.content()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
