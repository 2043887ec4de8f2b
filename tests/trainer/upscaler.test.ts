import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagePng, sha256Hex } from '@gan/core';
import { Upscaler, upscaleForward, upscalerOf } from '@gan/core/upscaler';
import { evaluateUpscaler, evaluationCells } from '@gan/trainer/upscale/evaluate';
import { upscalerWeightMap } from '@gan/trainer/upscale/networks';
import { selectBackend } from '@gan/trainer/backend';
import { deriveVersion } from '@gan/trainer/derive/derive';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { bicubicResize, meanPsnr } from '@gan/trainer/upscale/bicubic';
import { upscalerAddition } from '@gan/trainer/upscale/derive-addition';
import { exportUpscaler } from '@gan/trainer/upscale/export';
import { type EmojiPairs, pairImages } from '@gan/trainer/upscale/pairs';
import {
  UpscalerCheckpointError,
  type UpscalerSettings,
  UpscalerSettingsError,
  batchTensors,
  heldOutPsnr,
  readCheckpoint,
  runTraining,
  sampleBatch,
  startTraining,
  trainStep,
} from '@gan/trainer/upscale/train';
import { writeFixtureExport } from '../helpers/fixtures.ts';
import { colourExtractor } from '../helpers/colour-extractor.ts';

const FIXTURE = path.resolve('tests/trainer/fixtures/upscaler-pairs');
let root: string;
let pairs: EmojiPairs;

/** The two real pairs of the fixture (make-upscaler-pairs-fixture.ts): icons rendered at 32 and 128 px. */
async function fixturePairs(): Promise<EmojiPairs> {
  const read = async (file: string) => decode(await readFile(path.join(FIXTURE, file))).data as Uint8Array;
  const names = ['alien', 'dove'];
  const small = await Promise.all(names.map((n) => read(`${n}-32.png`)));
  const large = await Promise.all(names.map((n) => read(`${n}-128.png`)));
  const join = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  };
  return {
    size: 32,
    // The second is marked held out so that the held-out score has an icon to score.
    icons: names.map((name, style) => ({ style, name, heldOut: style === 1 })),
    pixels: { 1: join(small), 2: new Uint8Array(0), 4: join(large) },
  };
}

const settings = (over: Partial<UpscalerSettings> = {}): UpscalerSettings => ({
  config: { scale: 4, channels: 3, inputSize: 32, widths: [4, 4] },
  steps: 3,
  batchSize: 2,
  learningRate: 3e-3,
  featureWeight: 0,
  adversarialWeight: 0,
  degrade: { noise: 0, blur: 0 },
  seed: 7,
  checkpointEvery: 2,
  ...over,
});

beforeAll(async () => {
  await selectBackend('wasm', { threads: 1 });
  root = await mkdtemp(path.join(os.tmpdir(), 'upscaler-'));
  pairs = await fixturePairs();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('bicubic and PSNR', () => {
  it('bicubic keeps a flat image flat and an image its own size unchanged', () => {
    const flat = new Uint8Array(4 * 4 * 3).fill(93);
    expect(Array.from(new Set(bicubicResize(flat, 1, 4, 16, 3)))).toEqual([93]);
    const any = Uint8Array.from({ length: 5 * 5 * 3 }, (_, i) => (i * 37) % 256);
    expect(bicubicResize(any, 1, 5, 5, 3)).toEqual(any);
  });

  it('PSNR: 100 dB for equal images, 20·log10(255/d) for a uniform error d', () => {
    const a = new Uint8Array(12).fill(10);
    expect(meanPsnr(a, a, 1)).toBe(100);
    expect(meanPsnr(a, new Uint8Array(12).fill(15), 1)).toBeCloseTo(20 * Math.log10(255 / 5), 10);
  });
});

describe('training on real pairs', () => {
  it("a real pair's L1 loss moves down in a few steps", () => {
    const t = startTraining(settings({ batchSize: 1 }));
    const train = [0];
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const { x, y } = batchTensors(pairs, train, t.settings, step);
      losses.push(trainStep(t, undefined, x, y).l1);
      tf.dispose([x, y]);
    }
    expect(losses[5]).toBeLessThan(losses[0]);
  });

  it('the adversarial stage trains its discriminator beside the upscaler', () => {
    const t = startTraining(settings({ adversarialWeight: 0.01 }));
    const { x, y } = batchTensors(pairs, [0, 1], t.settings, 0);
    const losses = trainStep(t, undefined, x, y);
    tf.dispose([x, y]);
    expect(losses.discriminator).toBeGreaterThan(0);
    expect(losses.adversarial).toBeGreaterThan(0);
  });

  it("with adversarial samples, the discriminator judges the generator's images upscaled; L1 stays on the pairs", async () => {
    const config = { imageSize: 32 as const, channels: 3 as const, latentSize: 8, generatorWidth: 2, discriminatorWidth: 2, numClasses: 2 };
    const model = await writeFixtureExport(root, { name: 'sampler', version: 'v1', config, classes: ['a', 'b'] });
    const { generator } = await loadExportedGenerator(model);
    const adversarial = settings({ adversarialWeight: 0.01, adversarialSamples: model });
    const a = sampleBatch(generator, adversarial, 3);
    const b = sampleBatch(generator, adversarial, 3);
    const other = sampleBatch(generator, adversarial, 4);
    expect(a.shape).toEqual([2, 32, 32, 3]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(other.dataSync()));
    // Same weights and batch: only what the discriminator is shown differs.
    const { x, y } = batchTensors(pairs, [0, 1], adversarial, 0);
    const onPairs = trainStep(startTraining(adversarial), undefined, x, y);
    const onSamples = trainStep(startTraining(adversarial), undefined, x, y, a);
    expect(onSamples.l1).toBe(onPairs.l1);
    expect(onSamples.discriminator).not.toBe(onPairs.discriminator);
    expect(onSamples.adversarial).not.toBe(onPairs.adversarial);
    tf.dispose([a, b, other, x, y]);
    generator.dispose();
    const run = path.join(root, 'adversarial-samples');
    const t = await runTraining({ runDir: run, settings: { ...adversarial, steps: 2 }, pairs, log: () => {} });
    expect(t.step).toBe(2);
    const saved = JSON.parse(await readFile(path.join(run, 'settings.json'), 'utf8'));
    expect(saved).toMatchObject({ adversarialSamples: model, adversarialSamplesModel: 'sampler@v1' });
    // A resume finds another generator at that path: refused, not trained on other samples.
    await writeFile(path.join(run, 'settings.json'), JSON.stringify({ ...saved, adversarialSamplesModel: 'sampler@v0' }));
    await expect(runTraining({ runDir: run, settings: { ...adversarial, steps: 3 }, pairs, log: () => {} })).rejects.toThrow(
      /started with sampler@v0/,
    );
    const small = await writeFixtureExport(root, {
      name: 'small',
      version: 'v1',
      config: { ...config, imageSize: 16 as const },
      classes: ['a', 'b'],
    });
    await expect(
      runTraining({
        runDir: path.join(root, 'small-samples'),
        settings: settings({ adversarialWeight: 0.01, adversarialSamples: small }),
        pairs,
        log: () => {},
      }),
    ).rejects.toThrow(/makes 16 px images/);
    await expect(
      runTraining({ runDir: path.join(root, 'no-weight'), settings: settings({ adversarialSamples: model }), pairs, log: () => {} }),
    ).rejects.toThrow(UpscalerSettingsError);
  });

  it('a refinement added to a trained run starts as that run, then trains', async () => {
    const log = () => {};
    const plainRun = path.join(root, 'before-refine');
    const plain = await runTraining({ runDir: plainRun, settings: settings({ steps: 2 }), pairs, log });
    const refinedSettings = settings({ config: { ...settings().config, refineWidth: 2 }, initFrom: plainRun, steps: 2 });
    const refinedRun = path.join(root, 'refined');
    const x = tf.tensor4d(pairImages(pairs, 1, [0]), [1, 32, 32, 3]);
    const before = upscaleForward(plain.settings.config, plain.g, x);
    // Step 0 of the refined run: the same output as the run it starts from.
    const start = await runTraining({ runDir: refinedRun, settings: { ...refinedSettings, steps: 0 }, pairs, log });
    const same = upscaleForward(refinedSettings.config, start.g, x);
    expect(tf.max(tf.abs(tf.sub(same, before))).dataSync()[0]).toBe(0);
    const trained = await runTraining({ runDir: path.join(root, 'refined-2'), settings: refinedSettings, pairs, log });
    const refineKernel = trained.g.kernels[trained.names.indexOf('up_refine2')];
    expect(tf.max(tf.abs(refineKernel)).dataSync()[0]).toBeGreaterThan(0);
    // A second refinement on the refined run starts as that run too, then trains its own output kernel.
    const twiceSettings = settings({
      config: { ...settings().config, refineWidth: 2, refineBlocks: 2 },
      initFrom: path.join(root, 'refined-2'),
      steps: 2,
    });
    const twiceStart = await runTraining({ runDir: path.join(root, 'twice-0'), settings: { ...twiceSettings, steps: 0 }, pairs, log });
    const once = upscaleForward(refinedSettings.config, trained.g, x);
    expect(tf.max(tf.abs(tf.sub(upscaleForward(twiceSettings.config, twiceStart.g, x), once))).dataSync()[0]).toBe(0);
    const twice = await runTraining({ runDir: path.join(root, 'twice'), settings: twiceSettings, pairs, log });
    expect(tf.max(tf.abs(twice.g.kernels[twice.names.indexOf('up_refine4')])).dataSync()[0]).toBeGreaterThan(0);
    // A refined checkpoint into a run without the refinement would drop it: refused.
    await expect(
      runTraining({ runDir: path.join(root, 'unrefined'), settings: settings({ initFrom: path.join(root, 'refined-2') }), pairs, log }),
    ).rejects.toThrow(/up_refine1\/kernel.*which this run lacks/);
    // Any other layer that does not fit the checkpoint is refused.
    await expect(
      runTraining({
        runDir: path.join(root, 'shrunk'),
        settings: settings({ config: { ...settings().config, widths: [4, 8] }, initFrom: plainRun }),
        pairs,
        log,
      }),
    ).rejects.toThrow(UpscalerCheckpointError);
    tf.dispose([x, before, same]);
  });

  // Not bit for bit: on restore tfjs's Adam recomputes β₁ᵗ and β₂ᵗ as powers, where a straight run has
  // multiplied them step by step, so the bias corrections differ in the last bits.
  it('a resumed run ends with the weights of a straight one, to float precision', async () => {
    const log = () => {};
    const straight = path.join(root, 'straight');
    const resumed = path.join(root, 'resumed');
    await runTraining({ runDir: straight, settings: settings({ steps: 4 }), pairs, log });
    await runTraining({ runDir: resumed, settings: settings({ steps: 2 }), pairs, log });
    await runTraining({ runDir: resumed, settings: settings({ steps: 4 }), pairs, log });
    const a = await readCheckpoint(straight);
    const b = await readCheckpoint(resumed);
    expect(b.header.step).toBe(4);
    // In saved order: the optimiser's slots are named after variables, whose names differ between runs.
    const resumedTensors = [...b.tensors.values()];
    for (const [i, [name, tensor]] of [...a.tensors].entries()) {
      const diff = tf.max(tf.abs(tf.sub(resumedTensors[i], tensor))).dataSync()[0];
      const scale = tf.max(tf.abs(tensor)).dataSync()[0];
      expect(diff, name).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1e-3));
    }
    expect(a.tensors.size).toBe(b.tensors.size);
  });
});

describe('gan upscaler evaluate', () => {
  it("scores held-out pairs and the generator's samples; the samples' seed picks other samples, the same every time", async () => {
    // The fixture has no 64-px renders: the 2×2 means of the 128-px ones stand in.
    const large = pairs.pixels[4];
    const mid = new Uint8Array(large.length / 4);
    for (let i = 0; i < mid.length; i++) {
      const icon = Math.floor(i / (64 * 64 * 3));
      const [y, x, c] = [Math.floor(i / (64 * 3)) % 64, Math.floor(i / 3) % 64, i % 3];
      const at = (dy: number, dx: number) => large[((icon * 128 + 2 * y + dy) * 128 + 2 * x + dx) * 3 + c];
      mid[i] = Math.round((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4);
    }
    // And both icons are held out: a distance needs two images.
    const withMid = { ...pairs, icons: pairs.icons.map((icon) => ({ ...icon, heldOut: true })), pixels: { ...pairs.pixels, 2: mid } };
    const extractor = colourExtractor(32);
    const run = path.join(root, 'evaluated');
    const t = await runTraining({ runDir: run, settings: settings({ steps: 2 }), pairs, log: () => {} });
    const upscaler = Upscaler.fromWeights(t.settings.config, upscalerWeightMap(t.names, t.g));
    const config = { imageSize: 32 as const, channels: 3 as const, latentSize: 8, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 };
    const { generator } = await loadExportedGenerator(await writeFixtureExport(root, { name: 'evaluated', version: 'v1', config }));
    const evaluate = (seed?: string) =>
      evaluateUpscaler({ upscaler, pairs: withMid, generator, extractor, samples: 6, seed, cacheDir: path.join(root, 'cache') });
    const first = await evaluate();
    expect(first.samples).toMatchObject({ count: 6, seed: 'upscaler-eval', references: 2 });
    expect(first.heldOut.icons).toBe(2);
    expect(first.heldOut.psnr.learned).toBeGreaterThan(10);
    for (const size of ['64', '128'] as const) {
      const { bilinear, learned, ratio } = first.samples.added[size];
      expect(bilinear).toBe(first.samples.fd[size].bilinear - first.samples.fd32);
      expect(ratio).toBe(learned / bilinear);
    }
    expect(await evaluate()).toEqual(first);
    const other = await evaluate('another');
    expect(other.samples.seed).toBe('another');
    expect(other.samples.fd32).not.toBe(first.samples.fd32);
    expect(other.heldOut).toEqual(first.heldOut);
    expect(evaluationCells(3, 2, 'another').map((c) => [c.seed, c.classIndex])).toEqual([
      ['another#0', 0],
      ['another#1', 1],
      ['another#2', 0],
    ]);
    generator.dispose();
  });
});

describe('export and gan derive --upscaler', () => {
  it('makes a version whose filter=learned goes through the trained upscaler', async () => {
    const run = path.join(root, 'export-run');
    const t = await runTraining({ runDir: run, settings: settings({ steps: 2 }), pairs, log: () => {} });
    const score = heldOutPsnr(t.settings.config, t.g, pairs);
    expect(score.images).toBe(1);
    const config = { imageSize: 32 as const, channels: 3 as const, latentSize: 8, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 };
    const modelDir = await writeFixtureExport(root, { name: 'emojiish', version: 'v1', config });
    const upscalerDir = path.join(root, 'upscaler-export');
    const u = await exportUpscaler({
      runs: [run],
      out: upscalerDir,
      name: 'emojiish-x4',
      trainedFor: { name: 'emojiish', version: 'v1' },
      dataset: { name: 'fixture pairs', licence: 'CC-BY-4.0 AND Apache-2.0' },
    });
    expect(u.files.map((f) => f.path)).toEqual(['upscaler-group1-shard1of1.bin', 'upscaler.json']);
    const { manifest } = await loadExportedGenerator(modelDir);
    const addition = await upscalerAddition(manifest, upscalerDir, false, 'gan derive …');
    const out = path.join(root, 'derived');
    const derived = await deriveVersion({ model: modelDir, out, additions: [addition], version: 'v2' });
    expect(derived.manifest.upscaler?.source).toBe(`emojiish-x4@${u.version}`);
    const before = await loadExportedGenerator(modelDir);
    const after = await loadExportedGenerator(out);
    expect(upscalerOf(before.generator)).toBeUndefined();
    expect(upscalerOf(after.generator)).toBeDefined();
    const sha = (b: Uint8Array) => sha256Hex(b as Uint8Array<ArrayBuffer>);
    const cell = { seed: 'd' };
    // The generator is unchanged: the same bilinear bytes; learned differs.
    expect(await sha(imagePng(after.generator, cell, { size: 128, filter: 'bilinear' }))).toBe(
      await sha(imagePng(before.generator, cell, { size: 128, filter: 'bilinear' })),
    );
    expect(await sha(imagePng(after.generator, cell, { size: 128, filter: 'learned' }))).not.toBe(
      await sha(imagePng(after.generator, cell, { size: 128, filter: 'bilinear' })),
    );
    await expect(upscalerAddition({ ...manifest, version: 'other' }, upscalerDir, false, '')).rejects.toThrow(/made for emojiish@v1/);
  });
});
