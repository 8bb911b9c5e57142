// /docs in a real browser (Debian's Chromium through playwright-core).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, launchBrowser, type TestBrowser } from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/harness';

let srv: TestServer;
let browser: TestBrowser;
beforeAll(async () => {
  srv = await startTestServer();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

describe('/docs in Chromium', () => {
  it('renders the reference and loads nothing from another origin', async () => {
    const page = await browser.context.newPage();
    const origin = new URL(srv.url).origin;
    const foreign: string[] = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== origin) foreign.push(req.url());
    });
    await page.goto(`${srv.url}/docs/`);
    await page.locator('.swagger-ui .info').waitFor();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'docs.png') });
    expect(foreign).toEqual([]);
  });
});
