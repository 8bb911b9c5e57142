// The dashboard in a real browser (Debian's Chromium through playwright-core), against a real server,
// a real HTTPS webhook receiver and the real /v1: sign in, keys, webhooks, deliveries, sign out;
// axe-core on the sign-in page and both Integrations tabs; screenshots at 1280 and 390 px wide
// (test-artifacts/, git-ignored). Figures (bundle size, navigation to interactive) are printed.
import { dbCount } from '../helpers/db';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';
import { ARTIFACTS_DIR, launchBrowser, type TestBrowser } from '../helpers/browser';
import { person, type Person } from '../helpers/dashboard';
import { startTestServer, type TestServer } from '../helpers/harness';
import { startReceiver, testCertificates, type Receiver } from '../helpers/receiver';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let srv: TestServer;
let browser: TestBrowser;
let receiver: Receiver;
let alice: Person;
const started = performance.now();

beforeAll(async () => {
  const built = await buildDashboard();
  const js = readFileSync(join('dist/dashboard/assets', built.js));
  console.log(`dashboard bundle: ${built.js} ${(js.length / 1024).toFixed(1)} KiB, gzip ${(gzipSync(js, { level: 9 }).length / 1024).toFixed(1)} KiB; ${built.css} gzip ${(gzipSync(readFileSync(join('dist/dashboard/assets', built.css))).length / 1024).toFixed(1)} KiB`);
  srv = await startTestServer(
    { ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1', ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' },
    { webhooks: { ca: testCertificates().ca, pollIntervalMs: 50 } },
  );
  receiver = await startReceiver();
  browser = await launchBrowser();
  alice = await person(srv, 'enterprise');
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await srv?.close();
  console.log(`dashboard browser test: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

/** Violations axe-core rates serious or critical, on the page as it is now. */
async function axeProblems(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused).
  await page.evaluate(axeSource);
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as { violations: { id: string; impact: string | null; nodes: { target: unknown }[] }[] };
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

async function shots(page: Page, name: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.screenshot({ path: join(ARTIFACTS_DIR, `dashboard-${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function newPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  const origin = new URL(srv.url).origin;
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/401 \(Unauthorized\)|403|404|429/.test(msg.text())) problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('request', (req) => {
    if (new URL(req.url()).origin !== origin) problems.push(`request to another origin: ${req.url()}`);
  });
  return { page, problems };
}

async function signInThroughThePage(page: Page, p: Person) {
  await page.goto(`${srv.url}/dashboard/login`);
  await page.getByLabel('Email').fill(p.email);
  await page.getByLabel('Password').fill(p.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Integrations' }).waitFor();
}

const stats = (token: string) => fetch(`${srv.url}/v1/stats`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

describe('the dashboard in Chromium', () => {
  it('sign-in page: labelled controls, a wrong password in words, no serious accessibility problem', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${srv.url}/dashboard/login`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await shots(page, 'login');
    await page.getByLabel('Email').fill(alice.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Email or password is incorrect');
    await shots(page, 'login-error');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('REST API: create a key, shown once, works on /v1; revoke → 401', { timeout: 90_000 }, async () => {
    const { page, problems } = await newPage();
    await signInThroughThePage(page, alice);
    await page.getByRole('tab', { name: 'REST API', selected: true }).waitFor();
    // The tenant made by the harness already has one key; the page lists it.
    await page.getByRole('cell', { name: 'test', exact: true }).waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await page.getByLabel('Key name (optional)').fill('CRM sync');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const shown = page.getByLabel('New API key', { exact: true });
    await shown.waitFor();
    const token = await shown.inputValue();
    expect(token).toMatch(/^ormiar_sk_[A-Za-z0-9_-]{43}$/);
    await expect(page.getByLabel('Example request').textContent()).resolves.toBe(`curl -H "Authorization: Bearer ${token}" ${srv.url}/v1/stats`);
    expect(await axeProblems(page)).toEqual([]);
    await shots(page, 'rest-new-key');
    expect(await stats(token)).toBe(200);
    // Shown once: after a reload only the preview is left.
    await page.reload();
    await page.getByRole('cell', { name: 'CRM sync' }).waitFor();
    expect(await page.getByLabel('New API key', { exact: true }).count()).toBe(0);
    expect(await page.content()).not.toContain(token);
    await shots(page, 'rest');
    const row = page.getByRole('row').filter({ hasText: 'CRM sync' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Revoke key' }).click();
    await row.getByText(/^Revoked/).waitFor();
    expect(await stats(token)).toBe(401);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('Webhooks: add an endpoint, send a test event, the signed ping arrives and shows 2xx; a failing one shows its attempts and Retry works', { timeout: 120_000 }, async () => {
    const { page, problems } = await newPage();
    await signInThroughThePage(page, alice);
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByText('No endpoints yet').waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await shots(page, 'webhooks-empty');

    const addEndpoint = async (path: string): Promise<string> => {
      await page.getByLabel('Endpoint URL').fill(receiver.url(path));
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      const secret = await page.getByLabel('Signing secret', { exact: true }).inputValue();
      expect(secret).toMatch(/^whsec_/);
      receiver.expectSecrets(path, [secret]);
      await page.getByRole('button', { name: 'I have stored it' }).click();
      return secret;
    };

    await addEndpoint('/ok');
    const okItem = page.getByRole('listitem').filter({ hasText: receiver.url('/ok') }).first();
    await okItem.getByRole('button', { name: 'Send test event' }).click();
    const [ping] = await receiver.waitFor((all) => all.some((r) => r.path === '/ok'), 20_000);
    expect(ping?.json.type ?? ping?.json.event).toBe('ping');
    expect(ping?.verifiedWith.length).toBe(1);
    const delivered = page.locator('li.delivery[data-status="succeeded"]');
    await delivered.first().waitFor({ timeout: 20_000 });
    await expect(delivered.first().locator('[data-field="http-status"]').textContent()).resolves.toBe('HTTP 200');
    expect(await axeProblems(page)).toEqual([]);
    await shots(page, 'webhooks');

    receiver.script('/fail', [500, 503]);
    await addEndpoint('/fail');
    const failItem = page.getByRole('listitem').filter({ hasText: receiver.url('/fail') }).first();
    await failItem.getByRole('button', { name: 'Send test event' }).click();
    await page.getByLabel('Status').selectOption('failed');
    const failed = page.locator('li.delivery[data-status="failed"]').first();
    await failed.waitFor({ timeout: 30_000 });
    await expect(failed.locator('[data-field="http-status"]').textContent()).resolves.toBe('HTTP 503');
    await failed.getByRole('button', { name: 'Attempts' }).click();
    await failed.getByRole('cell', { name: '500', exact: true }).waitFor();
    await failed.getByRole('cell', { name: '503', exact: true }).waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await shots(page, 'webhooks-failed');
    const id = await failed.getAttribute('data-delivery-id');
    await failed.getByRole('button', { name: 'Retry' }).click();
    await page.getByLabel('Status').selectOption('');
    await page.locator(`li.delivery[data-delivery-id="${id}"][data-status="succeeded"]`).waitFor({ timeout: 30_000 });
    expect(receiver.received('/fail').map((r) => r.answered)).toEqual([500, 503, 200]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a starter client sees the upgrade notice; a business client has no webhooks', { timeout: 60_000 }, async () => {
    for (const [plan, tab, text] of [
      ['starter', 'REST API', 'The REST API is not included in your plan'],
      ['business', 'Webhooks', 'Webhooks is not included in your plan'],
    ] as const) {
      const { page, problems } = await newPage();
      await signInThroughThePage(page, await person(srv, plan));
      await page.getByRole('tab', { name: tab }).click();
      await page.getByText(text).waitFor();
      await shots(page, `${plan}-${tab === 'REST API' ? 'rest' : 'webhooks'}`);
      expect(problems).toEqual([]);
      await page.close();
    }
  });

  it('sign out: the page returns to sign-in and the old cookie no longer works', async () => {
    const { page } = await newPage();
    await signInThroughThePage(page, alice);
    const cookie = (await browser.context.cookies(srv.url)).find((c) => c.name === 'ormiar_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const res = await fetch(`${srv.url}/trpc/dashboard.auth.me`, { headers: { cookie: `ormiar_session=${cookie?.value}`, 'x-ormiar-dashboard': '1' } });
    expect(res.status).toBe(401);
    await page.close();
  });

  it('a cross-origin page cannot change anything with the signed-in person’s cookie', { timeout: 60_000 }, async () => {
    const { page } = await newPage();
    await signInThroughThePage(page, alice);
    const before = { n: await dbCount(srv, 'SELECT count(*) AS n FROM api_keys') };
    // Another site's page (served by the test through Playwright's routing): a fetch and a form post,
    // both sent by the browser itself with whatever cookies it would attach.
    await page.route('http://attacker.test/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>elsewhere</title><p>elsewhere</p>' }));
    await page.goto('http://attacker.test/', { timeout: 10_000 });
    // A fetch that adds the page's header needs a CORS preflight, which this server never grants.
    const outcome = await page.evaluate(`fetch(${JSON.stringify(`${srv.url}/trpc/dashboard.keys.create`)}, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-ormiar-dashboard': '1' }, body: '{"name":"x"}' }).then(() => 'sent', () => 'blocked')`);
    // A form post (text/plain, the browser's own navigation with the cookie, SameSite=Lax withholds it
    // cross-site, and the same-origin rule refuses it anyway).
    const answered = page.waitForResponse((r) => r.url().includes('/trpc/dashboard.keys.create'), { timeout: 10_000 });
    await page.evaluate(`(() => { const f = document.createElement('form'); f.method = 'POST'; f.enctype = 'text/plain'; f.action = ${JSON.stringify(`${srv.url}/trpc/dashboard.keys.create`)}; const i = document.createElement('input'); i.name = '{"name":"x","a":"'; i.value = '"}'; f.appendChild(i); document.body.appendChild(f); f.submit(); })()`);
    expect([400, 401, 403]).toContain((await answered).status());
    expect(outcome).toBe('blocked');
    const after = { n: await dbCount(srv, 'SELECT count(*) AS n FROM api_keys') };
    expect(after.n).toBe(before.n);
    await page.close();
  });

  it('navigation to interactive on Integrations (median of 10, printed)', { timeout: 120_000 }, async () => {
    const { page } = await newPage();
    await signInThroughThePage(page, alice);
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await page.goto(`${srv.url}/dashboard/integrations`);
      await page.getByRole('button', { name: 'Create API key' }).waitFor();
      await page.getByRole('cell', { name: 'CRM sync' }).waitFor();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`navigation to interactive (Integrations, keys listed): median ${((times[4]! + times[5]!) / 2).toFixed(0)} ms, min ${times[0]!.toFixed(0)}, max ${times[9]!.toFixed(0)}`);
    await page.close();
  });
});
