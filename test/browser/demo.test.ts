/**
 * The demo page in a real browser: the real server in-process (createApp, engine on a temp
 * SQLite file, simulator with short delays and no failures) and Debian's Chromium driven by
 * playwright-core. A REGULAR batch is clicked through registration, association confirmation,
 * an nlp pipeline (parked until a prompt is attached) and close.
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
import { startServer, type RunningServer } from '../../server/main.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/essay-lifecycle-demo.png';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`[test/browser/demo] skipped: ${CHROMIUM} does not exist (install the Debian package: apt-get install -y chromium)`);
}
const describeBrowser = hasChromium ? describe : describe.skip;

/** expect.poll with room for a busy machine (the default gives up after one second). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

/** The size from which the demo calls a state's name readable (server/public/zoom.js READABLE_PX). */
const READABLE_PX = 12;

/** Fill of a highlighted state in the server's SVG (adapters/visual/dot.ts). */
const LIT_FILL = '#fde68a';

/** The little of the DOM the in-page callback uses (the test project has no DOM lib). */
interface DomNode {
  querySelectorAll(selector: string): Iterable<DomNode>;
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
}

/** The little of a scrolling element the zoom and scroll checks read. */
interface DomBox {
  readonly scrollWidth: number;
  readonly clientWidth: number;
  scrollLeft: number;
  querySelector(selector: string): { getBoundingClientRect(): { readonly width: number } } | null;
}

/** The labels of the states drawn lit in one machine's SVG. */
function litStates(page: Page, machine: string): Promise<string[]> {
  return page.locator(`#diagram-${machine} svg g.node`).evaluateAll(
    (nodes: DomNode[], fill: string) =>
      nodes
        .filter((node) => [...node.querySelectorAll('[fill]')].some((shape) => shape.getAttribute('fill')?.toLowerCase() === fill))
        .map((node) => [...node.querySelectorAll('text')].map((text) => text.textContent ?? '').join('')),
    LIT_FILL,
  );
}

describeBrowser('demo page (Chromium)', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifecycle-demo-'));
    const config = parseConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LIFECYCLE_STORE: `sqlite:${join(dir, 'data', 'lifecycle.db')}`,
      SIMULATE: 'on',
      SIMULATE_FAILURE_RATE: '0',
      SIMULATE_DELAY_MS: '20-80',
      SIMULATE_SEED: '20260301',
    });
    server = await startServer(config, pino({ level: 'silent' }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    page.setDefaultTimeout(20_000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const status = () => page.locator('#batch-status');

  it('runs a REGULAR batch from registration to completed_successfully', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    await poll(() => page.locator('#live-indicator').textContent()).toBe('live');
    await page.locator('#diagram-batch svg').waitFor();

    await page.getByLabel('Number of essays').fill('4');
    await page.getByLabel('Class id (REGULAR)').fill('class-3b');
    await page.getByRole('button', { name: 'Register REGULAR batch' }).click();
    await poll(() => status().textContent()).toBe('awaiting_student_validation');
    await poll(() => page.locator('#association-rows tr').count()).toBeGreaterThanOrEqual(4);

    await page.getByRole('button', { name: 'Confirm associations' }).click();
    await poll(() => status().textContent()).toBe('ready_for_pipeline_execution');
    expect(await page.locator('#batch-client-status').textContent()).toBe('ready');

    await page.getByLabel('Pipeline', { exact: true }).selectOption('nlp');
    await page.getByRole('button', { name: 'Request pipeline' }).click();
    await poll(() => status().textContent()).toBe('awaiting_pipeline_configuration');
    // A parked request is not "done", and the batch (content in, waiting for the user) is not pending_content.
    expect(await page.locator('#action-message').textContent()).toBe('request pipeline: parked: attach a prompt to start');
    expect(await page.locator('#batch-client-status').textContent()).toBe('ready');
    await page.getByRole('button', { name: 'Attach prompt' }).click();
    await poll(() => page.locator('#batch-last-run').textContent()).toMatch(/^run 1 nlp: completed_successfully \(spellcheck → nlp; 4 ok, 0 failed\)$/);
    await poll(() => status().textContent()).toBe('ready_for_pipeline_execution');

    await page.getByRole('button', { name: 'Close batch' }).click();
    await poll(() => status().textContent()).toBe('completed_successfully');
    await poll(() => page.locator('#batch-rows .batch-status').first().textContent()).toBe('completed_successfully');

    // The diagrams are re-fetched with the selected batch's states lit (essays: closed -> all_processing_completed).
    await poll(() => page.locator('#diagram-batch .active-states').textContent()).toBe('lit: completed_successfully');
    await poll(() => litStates(page, 'batch')).toEqual(['completed_successfully']);
    await poll(() => litStates(page, 'essay')).toEqual(['all_processing_completed']);
    await poll(() => litStates(page, 'associations')).toEqual(['confirmed']);
    // Live counts across all batches, with the selected batch's states highlighted.
    const batchCount = page.locator('#counts-batch li[data-state="completed_successfully"]');
    await poll(() => batchCount.getAttribute('data-count')).toBe('1');
    expect(await batchCount.getAttribute('class')).toBe('lit');
    await poll(() => page.locator('#counts-essay li[data-state="all_processing_completed"]').getAttribute('data-count')).toBe('4');
    expect(await page.locator('#counts-associations li[data-state="confirmed"]').getAttribute('data-count')).toBe('1');
    expect(await page.locator('#batch-history li').count()).toBeGreaterThanOrEqual(6);
    for (const id of ['#request-pipeline', '#close-batch', '#cancel-batch', '#confirm-associations']) {
      expect(await page.locator(id).isDisabled()).toBe(true);
    }

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('opens the essay diagram readable (state names at least 12 px) with the lit state in view; fit shrinks it, zoom and drag work', async () => {
    const box = page.locator('#diagram-essay .svg-box');
    const sizes = () => box.evaluate((element: DomBox) => ({ svg: element.querySelector('svg')?.getBoundingClientRect().width ?? 0, box: element.clientWidth, left: element.scrollLeft }));
    // Rendered size of a state's name: its font-size (SVG units) times the drawn width over the viewBox width.
    const namePx = () => page.evaluate<number>(`(() => {
      const svg = document.querySelector('#diagram-essay svg');
      const text = svg.querySelector('g.node text');
      return Number(text.getAttribute('font-size')) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    })()`);
    // The lit node lies inside the visible part of the box.
    const litInView = () => page.evaluate<boolean>(`(() => {
      const box = document.querySelector('#diagram-essay .svg-box').getBoundingClientRect();
      const lit = [...document.querySelectorAll('#diagram-essay g.node')].find((node) => [...node.querySelectorAll('[fill]')].some((shape) => shape.getAttribute('fill').toLowerCase() === '${LIT_FILL}'));
      const at = lit.getBoundingClientRect();
      return at.left >= box.left && at.right <= box.right && at.top >= box.top && at.bottom <= box.bottom;
    })()`);

    expect(await namePx()).toBeGreaterThanOrEqual(READABLE_PX);
    expect(await page.locator('#diagram-essay .zoom-level').textContent()).not.toBe('×1');
    expect(await litInView()).toBe(true);

    await page.getByRole('button', { name: 'Fit the whole essay diagram' }).click();
    const fitted = await sizes();
    expect(fitted.svg).toBeLessThanOrEqual(fitted.box + 1);
    expect(await namePx()).toBeLessThan(READABLE_PX);

    await page.getByRole('button', { name: 'Zoom in (essay)' }).click();
    await page.getByRole('button', { name: 'Zoom in (essay)' }).click();
    expect(await page.locator('#diagram-essay .zoom-level').textContent()).toBe('×2');
    const zoomed = await sizes();
    expect(zoomed.svg).toBeCloseTo(2 * fitted.box, -1);
    const frame = await box.boundingBox();
    if (frame === null) throw new Error('the essay diagram is not visible');
    await page.mouse.move(frame.x + 400, frame.y + 200);
    await page.mouse.down();
    await page.mouse.move(frame.x + 100, frame.y + 150, { steps: 4 });
    await page.mouse.up();
    expect((await sizes()).left).toBeGreaterThan(zoomed.left + 200);
  });

  it('opens every diagram at the smallest zoom at which its state names are readable', async () => {
    const machines = await page.locator('#diagram-list figure.machine').evaluateAll((figures: Array<{ id: string }>) => figures.map((figure) => figure.id.replace(/^diagram-/, '')));
    expect(machines).toEqual(expect.arrayContaining(['batch', 'essay', 'batch_tracker', 'associations']));
    await page.reload();
    await page.locator('#diagram-associations svg').waitFor();
    for (const machine of machines) {
      const namePx = () => page.evaluate<number>(`(() => {
        const svg = document.querySelector('#diagram-${machine} svg');
        return Number(svg.querySelector('g.node text').getAttribute('font-size')) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      })()`);
      const level = page.locator(`#diagram-${machine} .zoom-level`);
      expect(await namePx(), machine).toBeGreaterThanOrEqual(READABLE_PX);
      if ((await level.textContent()) === '×1') continue;
      await page.getByRole('button', { name: `Zoom out (${machine})` }).click();
      expect(await namePx(), `${machine} one level less`).toBeLessThan(READABLE_PX);
    }
  });

  it('at 420 px the Batches table scrolls inside its panel and the history numbers are not clipped', async () => {
    await page.setViewportSize({ width: 420, height: 900 });
    const scroller = page.locator('#batches-panel .table-scroll');
    const overflow = await scroller.evaluate((element: DomBox) => ({ scroll: element.scrollWidth, client: element.clientWidth }));
    expect(overflow.scroll).toBeGreaterThan(overflow.client);
    await scroller.evaluate((element: DomBox) => (element.scrollLeft = 1000));
    expect(await scroller.evaluate((element: DomBox) => element.scrollLeft)).toBeGreaterThan(0);
    expect(await page.locator('#batch-rows td.client-status').first().isVisible()).toBe(true);
    // The list numbers live in the padding of the scrolling <ol>: "10." needs the room of its four characters.
    const room = await page.evaluate<number>(`(() => {
      const list = document.getElementById('batch-history');
      const style = getComputedStyle(list);
      const pen = document.createElement('canvas').getContext('2d');
      pen.font = style.font;
      return parseFloat(style.paddingLeft) - pen.measureText('10. ').width;
    })()`);
    expect(room).toBeGreaterThanOrEqual(0);
    await page.setViewportSize({ width: 1400, height: 1800 });
  });
});
