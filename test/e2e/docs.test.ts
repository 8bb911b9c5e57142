// /docs in a real browser (Debian's Chromium through playwright-core): every tag and guide section is
// on the page, the webhooks are listed, a try-it request answers 200, the code samples show, the
// strict CSP is not violated, and the page asks nothing of another origin.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUIDE_SECTIONS } from '../../src/http/guide';
import { ARTIFACTS_DIR, launchBrowser, type TestBrowser } from '../helpers/browser';
import { startTestServer, type Tenant, type TestServer } from '../helpers/harness';

let srv: TestServer;
let browser: TestBrowser;
let tenant: Tenant;
let tags: { name: string }[];
beforeAll(async () => {
  srv = await startTestServer();
  tenant = await srv.tenant('enterprise');
  tags = (await srv.call('GET', '/v1/openapi.json')).body.tags;
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

/** Records what the page asks of other origins and what the browser reports as errors (CSP included). */
function watch(page: Page, origin: string) {
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== origin) foreign.push(req.url());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  return { foreign, errors };
}

describe('/docs in Chromium', () => {
  it('shows every tag, the guide and the webhooks, runs a try-it request (200), and stays on its origin', async () => {
    const page = await browser.context.newPage();
    const origin = new URL(srv.url).origin;
    const seen = watch(page, origin);
    // Page weight: bytes on the wire for everything the page loads (CDP), reported with the timings.
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => {
      bytes += e.encodedDataLength;
    });

    const started = Date.now();
    await page.goto(`${srv.url}/docs`);
    await page.locator('.swagger-ui .info h1.title', { hasText: 'Ormiar API' }).waitFor();
    const rendered = Date.now() - started;
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);

    // Guide sections, in the rendered description.
    const headings = await page.locator('.swagger-ui .info .renderedMarkdown h2').allTextContents();
    for (const section of GUIDE_SECTIONS) expect(headings, section).toContain(section);
    // The generated /trpc table keeps five cells a row (TypeScript unions hold bars).
    const cellsPerRow = await page.locator('.swagger-ui .info .renderedMarkdown table').last().locator('tr').evaluateAll((rows) => rows.map((r) => r.children.length));
    expect(cellsPerRow.length).toBeGreaterThan(20);
    expect(new Set(cellsPerRow)).toEqual(new Set([5]));
    // Every tag with its description, and the webhooks section.
    expect(tags.length).toBeGreaterThanOrEqual(6);
    for (const { name } of tags) await expect(page.locator(`#operations-tag-${name}`).isVisible(), name).resolves.toBe(true);
    await expect(page.getByText('lead_qualified', { exact: true }).first().isVisible()).resolves.toBe(true);

    // Try it: authorize with a real key, open GET /v1/bots, execute.
    await page.locator('.auth-wrapper .authorize').click();
    await page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').first().fill(tenant.token);
    await page.locator('.modal-ux button.authorize').click();
    await page.locator('.modal-ux button.btn-done, .modal-ux .close-modal').first().click();
    const op = page.locator('#operations-Bots-listBots');
    await op.locator('.opblock-summary').first().click();
    // The operation's code samples (x-codeSamples) render above its responses.
    await expect(op.locator('.code-sample h5').allTextContents()).resolves.toEqual(['curl', 'JavaScript', 'Python']);
    await op.locator('.try-out__btn').click();
    const answered = page.waitForResponse((res) => new URL(res.url()).pathname === '/v1/bots');
    await op.locator('.execute').click();
    const response = await answered;
    expect(response.status()).toBe(200);
    await expect(op.locator('.live-responses-table tr.response .response-col_status').first().textContent()).resolves.toContain('200');
    expect(((await response.json()) as { data: { id: string }[] }).data.map((b) => b.id)).toContain(tenant.botId);

    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'docs.png') });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'docs-full.png'), fullPage: true });
    expect(seen.foreign).toEqual([]);
    expect(seen.errors).toEqual([]);
    // Figures for the README (not asserted: timings vary with the machine's load).
    console.log(`docs page: ${(bytes / 1024).toFixed(0)} KiB on the wire, first contentful paint ${fcp?.toFixed(0) ?? '?'} ms, reference rendered ${rendered} ms`);
  }, 120_000);
});
