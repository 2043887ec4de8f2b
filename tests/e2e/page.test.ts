/**
 * The page at / in headless Chromium, against the Worker in `wrangler dev` (workerd) with a local R2
 * filled with the tiny test generators. Skipped, with one line saying how to enable it, where no
 * browser is found (tests/e2e/browser.ts); GAN_REQUIRE_BROWSER=1 makes that a failure instead.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { type Unstable_DevWorker, getPlatformProxy, unstable_dev } from 'wrangler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOW_TO_ENABLE, browserRequired, findBrowser } from './browser.ts';
import { shippedGeneratorDirs } from '../helpers/gan.ts';
import { DIGITS_CONFIG, publishFixture, publishStandardFixtures, type WritableBucket } from '../worker/fixtures.ts';
import { publishFiles } from '../worker/sampler-fixture.ts';
import { UPSCALED_FIXTURES, buildUpscaledFixture } from '../worker/upscaler-fixture.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const configPath = path.join(root, 'wrangler.toml');
const browserSearch = findBrowser();
const MANY_CLASSES = Array.from({ length: 17 }, (_, i) => `c${i}`);
const MANY_CONFIG = { ...DIGITS_CONFIG, numClasses: MANY_CLASSES.length };
const CHROMIUM = browserSearch.executable;
if (!CHROMIUM && !browserRequired()) console.log(`page test skipped (${browserSearch.source}): ${HOW_TO_ENABLE}`);

let stateDir: string;
let worker: Unstable_DevWorker;
let browser: Browser;
let base: string;

let visitors = 0;

/** A new visitor's page: its own client address, so each test has the rate limits a visitor has (wrangler.toml). */
async function openPage(): Promise<Page> {
  const context = await browser.newContext({
    permissions: ['clipboard-read', 'clipboard-write'],
    extraHTTPHeaders: { 'CF-Connecting-IP': `192.0.2.${++visitors}` },
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  expect(errors).toEqual([]);
  return page;
}

const imageSize = (page: Page, id: string) =>
  page.$eval(`#${id}`, (img) => {
    const el = img as HTMLImageElement;
    return { complete: el.complete, width: el.naturalWidth, height: el.naturalHeight, src: el.dataset.src ?? '' };
  });

describe('a browser for the page test', () => {
  it.runIf(browserRequired())('is present (GAN_REQUIRE_BROWSER=1)', () => {
    expect(CHROMIUM, `${browserSearch.source}: ${HOW_TO_ENABLE}`).toBeDefined();
  });
});

describe.skipIf(!CHROMIUM)('the page at /', () => {
  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'gan-page-'));
    // Fill the local R2 that `wrangler dev --persist-to <stateDir>` reads (it keeps its data in v3/).
    const proxy = await getPlatformProxy<{ MODELS_BUCKET: WritableBucket }>({ configPath, persist: { path: path.join(stateDir, 'v3') } });
    try {
      await publishStandardFixtures(proxy.env.MODELS_BUCKET);
      // More classes than a grid has rows or a walk keys: class=each is not offered.
      await publishFixture(proxy.env.MODELS_BUCKET, { name: 'many', version: 'v1', config: MANY_CONFIG, classes: MANY_CLASSES });
      // Versions with a learned upscaler: not their default (ublobs@x4), and their default (dblobs).
      await publishFiles(proxy.env.MODELS_BUCKET, await buildUpscaledFixture(UPSCALED_FIXTURES[0]), true);
      await publishFiles(proxy.env.MODELS_BUCKET, await buildUpscaledFixture({ ...UPSCALED_FIXTURES[1], name: 'dblobs' }), true);
    } finally {
      await proxy.dispose();
    }
    worker = await unstable_dev(path.join(root, 'worker/src/index.ts'), {
      config: configPath,
      ip: '127.0.0.1',
      persistTo: stateDir,
      logLevel: 'warn',
      experimental: { disableExperimentalWarning: true },
    });
    base = `http://127.0.0.1:${worker.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('lists the models and shows an image and a grid that loaded', async () => {
    const page = await openPage();
    const options = await page.$$eval('#model option', (els) => els.map((el) => (el as HTMLOptionElement).value));
    // The published fixtures, and the models built into the Worker (models/ at build time).
    const embedded = shippedGeneratorDirs().map((dir) => path.basename(dir));
    expect(options.sort()).toEqual(['blobs', 'dblobs', 'digits', 'many', 'ublobs', ...embedded].sort());
    const image = await imageSize(page, 'image');
    expect(image).toMatchObject({ complete: true, width: 128, height: 128 });
    const grid = await imageSize(page, 'grid');
    expect(grid.complete).toBe(true);
    expect(grid.width).toBeGreaterThan(128);
    const snippet = await page.$eval('#snippet', (el) => (el as HTMLTextAreaElement).value);
    expect(snippet).toMatch(
      new RegExp(`^<img src="${base}/v1/models/[a-z]+/image\\.png\\?seed=hello&amp;size=128" alt="generated image">$`),
    );
    await page.click('#copy');
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'Snippet copied.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(snippet);
    await page.context().close();
  });

  it('regenerates for a new seed, size and class; the snippet follows', async () => {
    const page = await openPage();
    await page.selectOption('#model', 'digits');
    await page.waitForSelector('body[data-state="ready"]');
    await page.fill('#seed', 'page test');
    await page.fill('#size', '48');
    await page.selectOption('#class', 'one');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    const image = await imageSize(page, 'image');
    expect(image).toMatchObject({ complete: true, width: 48, height: 48 });
    expect(image.src).toBe('/v1/models/digits/image.png?seed=page+test&size=48&class=one');
    const snippet = await page.$eval('#snippet', (el) => (el as HTMLTextAreaElement).value);
    expect(snippet).toContain('/v1/models/digits/image.png?seed=page+test&amp;size=48&amp;class=one');
    // class = each: the grid has one row per class.
    await page.selectOption('#class', 'each');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    const grid = await imageSize(page, 'grid');
    expect(grid.height).toBe(3 * 48 + 4 * 2);
    await page.context().close();
  });

  it('offers class = each only where the grid and the walk can have a row and a key per class', async () => {
    const page = await openPage();
    const classes = () => page.$$eval('#class option', (els) => els.map((el) => (el as HTMLOptionElement).value));
    await page.selectOption('#model', 'many');
    expect(await classes()).toEqual(['', ...MANY_CLASSES]);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    await page.selectOption('#class', 'c16');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect((await imageSize(page, 'walk')).src).toBe('/v1/models/many/walk.gif?seed=hello&class=c16');
    await page.selectOption('#model', 'digits');
    expect(await classes()).toEqual(['', 'each', ...['zero', 'one', 'two']]);
    await page.context().close();
  });

  it("offers the learned upscaler where the model's version ships one, and asks for it in the URL and snippet", async () => {
    const page = await openPage();
    const filters = () => page.$$eval('#filter option', (els) => els.map((el) => (el as HTMLOptionElement).value));
    await page.selectOption('#model', 'ublobs');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect(await filters()).toEqual(['bilinear', 'nearest', 'learned']);
    expect(await page.inputValue('#filter')).toBe('learned');
    const image = await imageSize(page, 'image');
    expect(image).toMatchObject({
      complete: true,
      width: 128,
      height: 128,
      src: '/v1/models/ublobs/image.png?seed=hello&size=128&filter=learned',
    });
    expect((await imageSize(page, 'grid')).src).toContain('&filter=learned');
    expect(await page.$eval('#snippet', (el) => (el as HTMLTextAreaElement).value)).toContain('size=128&amp;filter=learned"');
    // bilinear is this version's default: asking for it leaves filter out of the URL.
    await page.selectOption('#filter', 'bilinear');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect((await imageSize(page, 'image')).src).toBe('/v1/models/ublobs/image.png?seed=hello&size=128');
    // Where learned is the version's default, the URL leaves it out and names bilinear when asked.
    await page.selectOption('#model', 'dblobs');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect(await page.inputValue('#filter')).toBe('learned');
    expect((await imageSize(page, 'image')).src).toBe('/v1/models/dblobs/image.png?seed=hello&size=128');
    await page.selectOption('#filter', 'bilinear');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect((await imageSize(page, 'image')).src).toBe('/v1/models/dblobs/image.png?seed=hello&size=128&filter=bilinear');
    // A model without an upscaler offers no learned filter.
    await page.selectOption('#model', 'digits');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect(await filters()).toEqual(['bilinear', 'nearest']);
    expect((await imageSize(page, 'image')).src).toBe('/v1/models/digits/image.png?seed=hello&size=128');
    await page.context().close();
  });

  it('shows the API error message for a bad parameter instead of a broken image', async () => {
    const page = await openPage();
    await page.fill('#size', '9999');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toMatch(/size must be an integer from 8 to 512/);
    await page.context().close();
  });

  it('shows an animated walk that loaded, with its <img> snippet', async () => {
    const page = await openPage();
    await page.selectOption('#model', 'digits');
    await page.waitForSelector('body[data-state="ready"]');
    await page.selectOption('#class', 'each');
    await page.click('#generate');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    const walk = await imageSize(page, 'walk');
    expect(walk).toMatchObject({ complete: true, width: 16, height: 16, src: '/v1/models/digits/walk.gif?seed=hello&class=each' });
    // What the page showed: an animated GIF that loops.
    const served = await page.evaluate(async () => {
      const response = await fetch((document.getElementById('walk') as HTMLImageElement).dataset.src!);
      const text = new TextDecoder('latin1').decode(await response.arrayBuffer());
      return { type: response.headers.get('Content-Type'), gif89a: text.startsWith('GIF89a'), loops: text.includes('NETSCAPE2.0') };
    });
    expect(served).toEqual({ type: 'image/gif', gif89a: true, loops: true });
    const snippet = await page.$eval('#walk-snippet', (el) => (el as HTMLTextAreaElement).value);
    expect(snippet).toContain(`<img src="${base}/v1/models/digits/walk.gif?seed=hello&amp;class=each"`);
    await page.context().close();
  });
});
