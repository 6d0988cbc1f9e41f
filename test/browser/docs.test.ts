/**
 * The API reference page (/docs) in a real browser: the demo server in-process with helmet's
 * Content-Security-Policy, Debian's Chromium driven by playwright-core, no network but the
 * server's own (every asset is served by the router). The page must render every operation,
 * show a request example and its schema, and run a request with try-it, with no CSP violation.
 *
 * Needs /usr/bin/chromium (Debian package `chromium`); skipped with a message otherwise.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../adapters/http/operations.js';
import { parseConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/main.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/essay-lifecycle-docs.png';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`[test/browser/docs] skipped: ${CHROMIUM} does not exist (install the Debian package: apt-get install -y chromium)`);
}
const describeBrowser = hasChromium ? describe : describe.skip;

describeBrowser('API reference page (Chromium)', () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const foreign: string[] = [];

  beforeAll(async () => {
    server = await startServer(parseConfig({ PORT: '0', HOST: '127.0.0.1', LIFECYCLE_STORE: 'sqlite::memory:', SIMULATE: 'off' }), pino({ level: 'silent' }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1300, height: 1600 } });
    page.setDefaultTimeout(20_000);
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith(server.url)) foreign.push(request.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders every operation from the server-served assets, shows examples and schemas, and runs try-it under the CSP', async () => {
    await page.goto(`${server.url}/docs`);
    await expect.poll(() => page.locator('.opblock').count()).toBe(OPERATIONS.length);
    expect(await page.locator('.info .title').first().textContent()).toContain('Essay lifecycle API');

    const register = page.locator('#operations-batches-registerBatch');
    await register.locator('.opblock-summary').click();
    const body = register.locator('textarea.body-param__text');
    await expect.poll(async () => body.inputValue()).toContain('"expected_essay_count": 3');
    await register.locator('.model-example button', { hasText: 'Schema' }).first().click();
    await expect.poll(() => register.locator('.model-box').first().textContent()).toContain('course_code');
    await register.locator('button.execute').click();
    await expect.poll(() => register.locator('.live-responses-table tbody .response-col_status').first().textContent()).toContain('201');
    expect(await register.locator('.live-responses-table .microlight').first().textContent()).toContain('batch_id');

    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
