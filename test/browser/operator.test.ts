/**
 * The demo page's Operator panel in a real browser: the real server in-process (open on loopback,
 * so the page's principal is the demo admin; SQLite file; simulator on), Debian's Chromium driven
 * by playwright-core. The panel shows the embedded queue's dead-letter count, and a forced
 * transition with a reason lands in the batch history with who did it and why.
 *
 * Needs /usr/bin/chromium (Debian package `chromium`); skipped with a message otherwise.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../server/config.js';
import { DEMO_PRINCIPAL, startServer, type RunningServer } from '../../server/main.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[test/browser/operator] skipped: ${CHROMIUM} does not exist (install the Debian package: apt-get install -y chromium)`);

(hasChromium ? describe : describe.skip)('demo page operator panel (Chromium)', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifecycle-operator-'));
    const config = parseConfig({ PORT: '0', HOST: '127.0.0.1', LIFECYCLE_STORE: `sqlite:${join(dir, 'lifecycle.db')}`, SIMULATE: 'on', SIMULATE_FAILURE_RATE: '0', SIMULATE_DELAY_MS: '20-80' });
    server = await startServer(config, pino({ level: 'silent' }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
    page.setDefaultTimeout(20_000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the page live, registers a GUEST batch and waits until it is ready; returns the page errors seen from then on. */
  async function openWithReadyBatch(): Promise<string[]> {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    await expect.poll(() => page.locator('#live-indicator').textContent(), { timeout: 20_000 }).toBe('live');
    await page.getByRole('button', { name: 'Register GUEST batch' }).click();
    await expect.poll(() => page.locator('#batch-status').textContent()).toBe('ready_for_pipeline_execution');
    return errors;
  }

  it('shows the dead-letter count and records a forced transition with its reason and principal in the history', async () => {
    const errors = await openWithReadyBatch();

    await expect.poll(() => page.locator('#operator-panel').isVisible()).toBe(true);
    await expect.poll(() => page.locator('#dead-letter-count').textContent()).toBe('embedded: 0 pending of 0');
    await page.getByLabel('Machine', { exact: true }).selectOption('batch');
    await expect.poll(() => page.locator('#force-to option').count()).toBeGreaterThan(5);
    await page.getByLabel('To state', { exact: true }).selectOption('cancelled');
    await page.getByLabel('Reason', { exact: true }).fill('stuck after an outage');
    await page.getByRole('button', { name: 'Force transition' }).click();

    await expect.poll(() => page.locator('#batch-status').textContent()).toBe('cancelled');
    const forced = page.locator('#batch-history li.forced');
    await expect.poll(() => forced.textContent()).toContain(`ready_for_pipeline_execution → cancelled (forced by ${DEMO_PRINCIPAL.user_id}: stuck after an outage)`);
    expect(errors).toEqual([]);
  });

  it('retries a failed phase of the selected batch from the panel; the history names the phase, who and why', async () => {
    const errors = await openWithReadyBatch();
    // Nothing failed yet: the batch's refusal reaches the page.
    await page.getByLabel('Retry reason', { exact: true }).fill('outage');
    await page.getByRole('button', { name: 'Retry phase' }).click();
    await expect.poll(() => page.locator('#batch-history').textContent()).toContain('refused in ready_for_pipeline_execution: PHASE_RETRY_REQUESTED refused');
    expect(errors).toEqual([]);
  });
});
