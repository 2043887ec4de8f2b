/**
 * The data-efficient training options: DiffAugment, the generator's moving average and the hinge
 * loss — off by default, differentiable, resumable, and what export writes. Also the projection
 * discriminator: recorded, resumable, and refused where there are no classes to project; and G's
 * statistics matching, recorded, resumable and refused on greyscale data.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sfc32 } from '@gan/core/prng';
import { buildGenerator } from '@gan/core/model';
import { generatorInput, latentFromSeed } from '@gan/core';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import {
  AugmentPolicyError,
  DIFF_AUGMENT_POLICY,
  applyAugmentation,
  drawAugmentation,
  parseAugmentPolicy,
  translationRange,
} from '@gan/trainer/train/augment';
import { EMA_PREFIX, GeneratorAverage, emaDecay } from '@gan/trainer/train/ema';
import { generatorInputTensor } from '@gan/trainer/train/step';
import { LECAM_TENSOR } from '@gan/trainer/train/lecam';
import { type Checkpoint, loadLatestCheckpoint } from '@gan/trainer/train/checkpoint';
import { type TrainOptions, runTraining } from '@gan/trainer/train/run';
import { ARTICLE_RECIPE } from '@gan/trainer/train/settings';
import { initialiseFrom, readInitSource } from '@gan/trainer/train/init-from';
import { TrainingState } from '@gan/trainer/train/state';
import { exportRun } from '@gan/trainer/export/export';
import { ganInProcess as gan } from './gan-in-process.ts';
import { oneQuietStep, tinyRun } from './tiny-run.ts';

let root: string;

/**
 * Trains `<name>-full` for 4 steps straight through and `<name>-split` for 2, then resumed to 4 asking
 * for the article's recipe (the checkpoint's must win); returns both newest checkpoints and the split run's directory.
 */
async function straightAndResumed(name: string, run: (outDir: string, extra?: Partial<TrainOptions>) => TrainOptions) {
  const full = path.join(root, `${name}-full`);
  const split = path.join(root, `${name}-split`);
  const result = await runTraining(run(full, { steps: 4 }));
  await runTraining(run(split, { steps: 2 }));
  await runTraining(run(split, { steps: 4, resume: true, data: undefined, recipe: ARTICLE_RECIPE }));
  const straight = (await loadLatestCheckpoint(full)).checkpoint!;
  const resumed = (await loadLatestCheckpoint(split)).checkpoint!;
  return { result, straight, resumed, split };
}

/** A run trained straight through and one resumed half-way hold the same tensors, bit for bit. */
function expectSameTensors(a: Checkpoint, b: Checkpoint) {
  expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
  for (const [name, t] of a.tensors)
    expect(Buffer.from(b.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-recipe-'));
});

describe('DiffAugment', () => {
  it('is off unless asked for, and parses the paper policy', () => {
    expect(ARTICLE_RECIPE.diffAugment).toEqual([]);
    expect(parseAugmentPolicy('none')).toEqual([]);
    expect(parseAugmentPolicy('color,translation,cutout')).toEqual(DIFF_AUGMENT_POLICY);
    expect(() => parseAugmentPolicy('colour')).toThrow(AugmentPolicyError);
  });

  it('translates by the drawn shift, shifting zeros in', () => {
    const size = 16;
    const draw = drawAugmentation(['translation'], 1, size, Sfc32.fromSeed('t'));
    draw.shiftY![0] = 2;
    draw.shiftX![0] = -1;
    const pixels = new Float32Array(size * size).fill(0.5);
    pixels[5 * size + 5] = 1;
    const out = tf.tidy(() => applyAugmentation(tf.tensor4d(pixels, [1, size, size, 1]), draw).dataSync());
    expect(out[7 * size + 4]).toBe(1);
    expect(out[0 * size + 0]).toBe(0); // two rows shifted in at the top
    expect(out[1 * size + 3]).toBe(0);
    expect(out[2 * size + 3]).toBe(0.5);
    expect(out[3 * size + (size - 1)]).toBe(0); // a column shifted in at the right
  });

  it('cuts out a square of half the edge and keeps shifts within an eighth', () => {
    const size = 16;
    const draw = drawAugmentation(DIFF_AUGMENT_POLICY, 32, size, Sfc32.fromSeed('c'));
    for (let i = 0; i < 32; i++) {
      const zeros = draw.cutoutMask!.subarray(i * size * size, (i + 1) * size * size).filter((v) => v === 0).length;
      expect(zeros).toBeGreaterThan(0);
      expect(zeros).toBeLessThanOrEqual((size / 2) ** 2);
      expect(Math.abs(draw.shiftX![i])).toBeLessThanOrEqual(translationRange(size));
    }
    expect(new Set(draw.shiftX).size).toBeGreaterThan(1);
  });

  it('is differentiable with respect to the images, zero gradient where cut out', () => {
    const size = 8;
    const draw = drawAugmentation(DIFF_AUGMENT_POLICY, 2, size, Sfc32.fromSeed('g'));
    const x = tf.randomUniform([2, size, size, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const grad = tf.grad((images: tf.Tensor) => tf.sum(tf.square(applyAugmentation(images as tf.Tensor4D, draw))))(x);
    const values = grad.dataSync();
    expect(values.some((v) => v !== 0)).toBe(true);
    expect(values.every(Number.isFinite)).toBe(true);
    tf.dispose([x, grad]);
  });

  it('applies one draw as one transform: the same draw gives the same output for the same input', () => {
    const draw = drawAugmentation(DIFF_AUGMENT_POLICY, 4, 8, Sfc32.fromSeed('same'));
    const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const a = applyAugmentation(x, draw);
    const b = applyAugmentation(x, draw);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(x.dataSync()));
    tf.dispose([x, a, b]);
  });
});

describe('moving average of G', () => {
  it('warms up its decay and moves the average toward the trained weights', () => {
    expect(emaDecay(0.999, 0)).toBeCloseTo(0.1);
    expect(emaDecay(0.999, 1e6)).toBe(0.999);
    const config = { imageSize: 8, channels: 1, latentSize: 4, generatorWidth: 2, discriminatorWidth: 2, numClasses: 0 } as const;
    const generator = buildGenerator(config, 1);
    const average = new GeneratorAverage(generator, 0.5);
    const w = generator.trainableWeights[0];
    const before = Array.from(w.read().dataSync());
    w.write(tf.add(w.read(), 1));
    average.update(1e6); // decay 0.5
    const shadow = average.shadow.get(w.originalName)!.dataSync();
    before.forEach((v, i) => {
      expect(shadow[i]).toBeCloseTo(v + 0.5, 5);
    });
    const tensorsBefore = tf.memory().numTensors;
    const weights = average.servingWeights(config, 2, 8);
    expect(Object.keys(weights).sort()).toEqual(generator.weights.map((x) => x.originalName).sort());
    tf.dispose(Object.values(weights));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(Array.from(w.read().dataSync())).toEqual(before.map((v) => Math.fround(v + 1))); // trained weights put back
    average.dispose();
    generator.dispose();
  });

  it.each([
    ['a plain G', undefined],
    ['a class-conditional G', 'batch-norm' as const],
  ])("recomputes each batch norm's statistics as the batch moments of what it sees in training mode (%s)", (_, generatorConditioning) => {
    const config = {
      imageSize: 16,
      channels: 3,
      latentSize: 4,
      generatorWidth: 4,
      discriminatorWidth: 2,
      numClasses: 3,
      ...(generatorConditioning && { generatorConditioning }),
    } as const;
    const generator = buildGenerator(config, 2);
    const average = new GeneratorAverage(generator, 0.5);
    const weights = average.servingWeights(config, 1, 8);
    // The same draw as servingWeights', run through G layer by layer, each batch norm's input taken as it passes.
    const noise = Sfc32.fromSeed('ema/standing-statistics').fillNormal(new Float32Array(8 * config.latentSize));
    const input = generatorInputTensor(
      config,
      noise,
      Int32Array.from({ length: 8 }, (_, i) => i % 3),
    );
    const seen = new Map<string, tf.Tensor>();
    const values = new Map<number, tf.Tensor>([[generator.inputs[0].id, input]]);
    for (const layer of generator.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      const inbound = layer.inboundNodes[0].inputTensors.map((t) => values.get(t.id)!);
      if (layer.getClassName() === 'BatchNormalization') seen.set(layer.name, inbound[0]);
      const output = layer.apply(inbound.length === 1 ? inbound[0] : inbound, { training: true }) as tf.Tensor;
      values.set((layer.output as tfl.SymbolicTensor).id, output);
    }
    expect(seen.size).toBe(2);
    for (const [name, x] of seen) {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      expect(Array.from(weights[`${name}/moving_mean`].dataSync())).toEqual(Array.from(mean.dataSync()));
      expect(Array.from(weights[`${name}/moving_variance`].dataSync())).toEqual(Array.from(variance.dataSync()));
    }
    tf.dispose([...Object.values(weights), ...values.values()]);
    average.dispose();
    generator.dispose();
  });
});

const tiny = (outDir: string, extra: Partial<TrainOptions> = {}) =>
  tinyRun('cpu', outDir, { recipe: { loss: 'hinge', diffAugment: DIFF_AUGMENT_POLICY, ema: 0.99 }, seed: 'recipe', ...extra });

describe('a run with the data-efficient recipe', () => {
  it('resumes exactly (average included) and exports the averaged weights', async () => {
    const full = path.join(root, 'full');
    const split = path.join(root, 'split');
    await runTraining(tiny(full, { steps: 4 }));
    await runTraining(tiny(split, { steps: 2 }));
    await runTraining(tiny(split, { steps: 4, resume: true, data: undefined }));
    const a = (await loadLatestCheckpoint(full)).checkpoint!;
    const b = (await loadLatestCheckpoint(split)).checkpoint!;
    const emaNames = [...a.tensors.keys()].filter((n) => n.startsWith(`${EMA_PREFIX}/`));
    expect(emaNames.length).toBeGreaterThan(0);
    // As the plain resume test: bit for bit.
    expectSameTensors(a, b);

    const kernel = [...a.tensors.keys()].find((n) => n.startsWith('generator/') && n.endsWith('kernel'))!;
    const averaged = a.tensors.get(kernel.replace('generator/', `${EMA_PREFIX}/`))!.data;
    expect(Array.from(averaged)).not.toEqual(Array.from(a.tensors.get(kernel)!.data));

    const exported = await exportRun(full, path.join(root, 'export'), { cardNotes: '## Ablation\n\n| recipe | FD |\n| --- | --- |\n' });
    expect(exported.manifest.training.recipe).toEqual({
      loss: 'hinge',
      diffAugment: DIFF_AUGMENT_POLICY,
      ema: 0.99,
      conditioning: 'planes',
    });
    const card = await readFile(path.join(root, 'export', 'README.md'));
    expect(card.toString()).toMatch(/moving average of G's \(decay 0\.99[\s\S]*\n## Ablation\n\n\| recipe \| FD \|/);
    expect(exported.manifest.files.find((f) => f.path === 'README.md')?.sha256).toBe(createHash('sha256').update(card).digest('hex'));
    const modelJson = JSON.parse(await readFile(path.join(root, 'export', 'model.json'), 'utf8'));
    const spec = modelJson.weightsManifest[0].weights as { name: string; shape: number[] }[];
    const shard = new Float32Array((await readFile(path.join(root, 'export', 'group1-shard1of1.bin'))).buffer.slice(0));
    let offset = 0;
    for (const w of spec) {
      const n = w.shape.reduce((p, d) => p * d, 1);
      if (`generator/${w.name}` === kernel) expect(Array.from(shard.subarray(offset, offset + n))).toEqual(Array.from(averaged));
      offset += n;
    }
  }, 120_000);
});

describe('a run with a projection discriminator', () => {
  const projection = (outDir: string, extra: Partial<TrainOptions> = {}) =>
    tinyRun('cpu', outDir, { recipe: { ...ARTICLE_RECIPE, conditioning: 'projection' }, seed: 'projection', ...extra });

  it('records it in run.json and resumes exactly, the class embedding included', async () => {
    // On resume the checkpoint's recipe wins: asking for planes then changes nothing.
    const { result, straight: a, resumed: b, split } = await straightAndResumed('projection', projection);
    expect(Number.isFinite(result.last!.d_loss) && Number.isFinite(result.last!.g_loss)).toBe(true);
    const runJson = JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8'));
    expect(runJson.recipe.conditioning).toBe('projection');
    expect(a.tensors.get('discriminator/class_embedding/kernel')!.shape[0]).toBe(10);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    expectSameTensors(a, b);
    const exported = await exportRun(split, path.join(root, 'projection-export'));
    expect(exported.manifest.training.recipe?.conditioning).toBe('projection');
    const card = await readFile(path.join(root, 'projection-export', 'README.md'), 'utf8');
    expect(card).toMatch(/given to the\ndiscriminator by projection/);
  }, 120_000);

  it('runs one batch through both steps on --dry-run, writing nothing', async () => {
    const lines: string[] = [];
    const outDir = path.join(root, 'projection-dry');
    const result = await runTraining(projection(outDir, { dryRun: true, info: (l) => lines.push(l) }));
    expect(result.step).toBe(1);
    expect(Number.isFinite(result.last!.d_loss) && Number.isFinite(result.last!.g_loss)).toBe(true);
    expect(lines.join('\n')).toMatch(/dry run: one batch of 8 through both steps/);
    expect(existsSync(outDir)).toBe(false);
  }, 120_000);
});

describe('gan train --conditioning', () => {
  it('refuses an unknown kind, naming the flag and the kinds there are', async () => {
    const r = await gan('train', '--data', 'mnist', '--conditioning', 'plane', '--out', path.join(root, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--conditioning[\s\S]*planes, projection/);
  });

  it('refuses a projection without labels, naming the flag', async () => {
    const r = await gan('train', '--data', 'mnist', '--no-labels', '--conditioning', 'projection', '--out', path.join(root, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --conditioning: projection needs the class labels/);
  });
});

describe('a run with a class loss (AC-GAN)', () => {
  const classLoss = (outDir: string, extra: Partial<TrainOptions> = {}) =>
    tinyRun('cpu', outDir, { recipe: { ...ARTICLE_RECIPE, conditioning: 'projection', classLoss: 0.5 }, seed: 'class-loss', ...extra });

  it('records it, resumes exactly (the class head included) and names it in the manifest and the card', async () => {
    const { straight: a, resumed: b, split } = await straightAndResumed('class-loss', classLoss);
    const runJson = JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8'));
    expect(runJson.recipe).toMatchObject({ conditioning: 'projection', classLoss: 0.5 });
    expect(a.tensors.get('discriminator/class_logits/kernel')!.shape).toEqual([4 * 4 * 8, 10]);
    expectSameTensors(a, b);
    const exported = await exportRun(split, path.join(root, 'class-loss-export'));
    expect(exported.manifest.training.recipe?.classLoss).toBe(0.5);
    const card = await readFile(path.join(root, 'class-loss-export', 'README.md'), 'utf8');
    expect(card).toMatch(/auxiliary class loss \(AC-GAN\) of weight 0\.5/);
  }, 120_000);

  it('leaves it out of the manifest of a model trained without it', async () => {
    const outDir = path.join(root, 'class-loss-none');
    await runTraining(tinyRun('cpu', outDir, { steps: 2 }));
    const exported = await exportRun(outDir, path.join(root, 'class-loss-none-export'));
    expect(exported.manifest.training.recipe).toEqual({ loss: 'bce', diffAugment: [], ema: null, conditioning: 'planes' });
  }, 120_000);
});

describe('a run whose class head has the generated class', () => {
  const recipe = { ...ARTICLE_RECIPE, conditioning: 'projection' as const, classLoss: 0.5, fakeClass: true };
  const fakeClass = (outDir: string, extra: Partial<TrainOptions> = {}) => tinyRun('cpu', outDir, { recipe, seed: 'fake-class', ...extra });

  it('records it, resumes exactly (the K + 1 class logits included) and names it in the manifest and the card', async () => {
    const { straight: a, resumed: b, split } = await straightAndResumed('fake-class', fakeClass);
    expect(JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8')).recipe).toMatchObject({ classLoss: 0.5, fakeClass: true });
    expect(a.tensors.get('discriminator/class_logits/kernel')!.shape).toEqual([4 * 4 * 8, 11]);
    expectSameTensors(a, b);
    const exported = await exportRun(split, path.join(root, 'fake-class-export'));
    expect(exported.manifest.training.recipe).toMatchObject({ classLoss: 0.5, fakeClass: true });
    const card = await readFile(path.join(root, 'fake-class-export', 'README.md'), 'utf8');
    expect(card).toMatch(/the head with a generated class fitted to G's images/);
  }, 120_000);

  it("starts from a class-loss run's head: the real classes' columns are the source's, the generated class's its own", async () => {
    const sourceDir = path.join(root, 'fake-class-source');
    await runTraining(tinyRun('cpu', sourceDir, { recipe: { ...recipe, fakeClass: false }, seed: 'fake-class-source', steps: 2 }));
    const source = await readInitSource(sourceDir);
    const state = TrainingState.initial({ ...source.settings, seed: 'fake-class', recipe, initFrom: source.provenance });
    const fresh = new Map(state.models.discriminator.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));
    const transfer = initialiseFrom(state, source);
    expect(transfer.sliced).toEqual([
      'discriminator/class_logits/kernel [128,10] → [128,11]',
      'discriminator/class_logits/bias [10] → [11]',
    ]);
    const saved = source.checkpoint.tensors.get('discriminator/class_logits/kernel')!.data;
    const head = state.models.discriminator.weights.find((w) => w.originalName === 'class_logits/kernel')!;
    const kernel = head.read().dataSync();
    const own = fresh.get('class_logits/kernel')!;
    for (let r = 0; r < 128; r++) {
      for (let c = 0; c < 10; c++) expect(kernel[r * 11 + c]).toBe(saved[r * 10 + c]);
      expect(kernel[r * 11 + 10]).toBe(own[r * 11 + 10]);
    }
    expect(own.some((v) => v !== 0)).toBe(true);
    state.dispose();

    // And back: a head without the generated class keeps the real classes' columns and drops the generated one's.
    const fakeDir = path.join(root, 'fake-class-source-k1');
    await runTraining(tinyRun('cpu', fakeDir, { recipe, seed: 'fake-class-source', steps: 2 }));
    const withGenerated = await readInitSource(fakeDir);
    const plain = TrainingState.initial({ ...withGenerated.settings, recipe: { ...recipe, fakeClass: false } });
    expect(initialiseFrom(plain, withGenerated).sliced).toContain('discriminator/class_logits/kernel [128,11] → [128,10]');
    const back = plain.models.discriminator.weights
      .find((w) => w.originalName === 'class_logits/kernel')!
      .read()
      .dataSync();
    const from = withGenerated.checkpoint.tensors.get('discriminator/class_logits/kernel')!.data;
    for (let r = 0; r < 128; r++) for (let c = 0; c < 10; c++) expect(back[r * 10 + c]).toBe(from[r * 11 + c]);
    plain.dispose();

    // The command line asks for it the same way.
    const viaCli = path.join(root, 'fake-class-cli');
    const r = await gan(
      'train',
      '--init-from',
      sourceDir,
      '--conditioning',
      'projection',
      '--class-loss',
      '1',
      '--fake-class',
      ...oneQuietStep(viaCli),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(path.join(viaCli, 'run.json'), 'utf8')).recipe).toMatchObject({ classLoss: 1, fakeClass: true });
    expect((await loadLatestCheckpoint(viaCli)).checkpoint!.tensors.get('discriminator/class_logits/kernel')!.shape).toEqual([128, 11]);
  }, 120_000);
});

describe('gan train --class-loss', () => {
  it('refuses it without the projection discriminator, and a negative weight, naming the flag', async () => {
    const planes = await gan('train', '--data', 'mnist', '--class-loss', '1', '--out', path.join(root, 'never'));
    expect(planes.code).toBe(2);
    expect(planes.stderr).toMatch(/error: --class-loss: the class head is part of the projection discriminator/);
    const negative = await gan(
      'train',
      '--data',
      'mnist',
      '--conditioning',
      'projection',
      '--class-loss',
      '-1',
      '--out',
      path.join(root, 'never'),
    );
    expect(negative.code).not.toBe(0);
    expect(negative.stderr).toMatch(/--class-loss[\s\S]*must be a number ≥ 0/);
  });

  it('refuses --fake-class without a class loss, naming the flag', async () => {
    const r = await gan('train', '--data', 'mnist', '--conditioning', 'projection', '--fake-class', '--out', path.join(root, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --fake-class: the generated class is a class of the class head: add --class-loss/);
  });
});

describe('a run with spectral normalisation in D', () => {
  const spectral = (outDir: string, extra: Partial<TrainOptions> = {}) =>
    tinyRun('cpu', outDir, { recipe: { ...ARTICLE_RECIPE, spectralNorm: true }, seed: 'spectral', ...extra });

  it('records it, resumes exactly (the power-iteration vectors included) and names it in the manifest and the card', async () => {
    const { straight: a, resumed: b, split } = await straightAndResumed('spectral', spectral);
    expect(JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8')).recipe.spectralNorm).toBe(true);
    expect(a.tensors.has('discriminator/down1/sn_u')).toBe(true);
    expect([...a.tensors.keys()].filter((k) => k.startsWith('discriminator/') && k.includes('_bn'))).toEqual([]);
    expectSameTensors(a, b);
    const exported = await exportRun(split, path.join(root, 'spectral-export'));
    expect(exported.manifest.training.recipe?.spectralNorm).toBe(true);
    expect(await readFile(path.join(root, 'spectral-export', 'README.md'), 'utf8')).toMatch(/spectral normalisation of D's convolutions/);
  }, 120_000);
});

describe('a run whose G upsamples by resize convolutions', () => {
  const resize = (outDir: string, extra: Partial<TrainOptions> = {}) =>
    tinyRun('cpu', outDir, { recipe: { ...ARTICLE_RECIPE, upsampling: 'resize' }, seed: 'resize', ...extra });

  it('records it, resumes exactly, and exports the transposed-convolution G that serves the same images', async () => {
    const { straight: a, resumed: b, split } = await straightAndResumed('resize', resize);
    const settings = JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8'));
    expect(settings.recipe.upsampling).toBe('resize');
    expect(a.tensors.get('generator/up1/kernel')?.shape).toEqual([3, 3, 8, 4]);
    expectSameTensors(a, b);
    const exportDir = path.join(root, 'resize-export');
    const exported = await exportRun(split, exportDir);
    expect(exported.manifest.training.recipe?.upsampling).toBe('resize');
    expect(await readFile(path.join(exportDir, 'README.md'), 'utf8')).toMatch(/G trained with nearest upsampling and 3x3 convolutions/);
    // The served generator (4x4 transposed kernels) draws what the trained one does, in inference mode.
    const { generator: served } = await loadExportedGenerator(exportDir);
    const trained = buildGenerator(served.config, 0, 'resize');
    for (const w of trained.weights) {
      const saved = b.tensors.get(`generator/${w.originalName}`)!;
      w.write(tf.tensor(saved.data, saved.shape));
    }
    const input = generatorInput(served.config, [latentFromSeed('x', 8), latentFromSeed('y', 8)], [1, 7]);
    const diff = tf.max(tf.abs(tf.sub(served.forward(input), trained.predict(input) as tf.Tensor))).dataSync()[0];
    expect(diff).toBeLessThan(2e-3); // float16 export
    trained.dispose();
    served.dispose();
  }, 120_000);

  it('leaves it out of the manifest of a run trained with transposed convolutions', async () => {
    const dir = path.join(root, 'transposed');
    await runTraining(tinyRun('cpu', dir, { steps: 2, seed: 'transposed' }));
    expect((await loadLatestCheckpoint(dir)).checkpoint!.tensors.get('generator/up1/kernel')?.shape).toEqual([4, 4, 4, 8]);
    const exported = await exportRun(dir, path.join(root, 'transposed-export'));
    expect(exported.manifest.training.recipe).not.toHaveProperty('upsampling');
  }, 120_000);
});

describe('a run with LeCam regularisation', () => {
  const lecam = (outDir: string, extra: Partial<TrainOptions> = {}) =>
    tinyRun('cpu', outDir, { recipe: { ...ARTICLE_RECIPE, lecam: 0.3 }, seed: 'lecam', ...extra });

  it('records it, resumes exactly (the anchors included) and names it in the manifest and the card', async () => {
    const { straight: a, resumed: b, split } = await straightAndResumed('lecam', lecam);
    expect(JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8')).recipe.lecam).toBe(0.3);
    expect(a.tensors.get(LECAM_TENSOR)?.shape).toEqual([2]);
    expectSameTensors(a, b);
    const exported = await exportRun(split, path.join(root, 'lecam-export'));
    expect(exported.manifest.training.recipe?.lecam).toBe(0.3);
    expect(await readFile(path.join(root, 'lecam-export', 'README.md'), 'utf8')).toMatch(/LeCam regularisation of D \(weight 0\.3\)/);
  }, 120_000);

  it('leaves it out of the checkpoint and the manifest of a run trained without it', async () => {
    const dir = path.join(root, 'no-lecam');
    await runTraining(tinyRun('cpu', dir, { steps: 2, seed: 'no-lecam' }));
    expect((await loadLatestCheckpoint(dir)).checkpoint!.tensors.has(LECAM_TENSOR)).toBe(false);
    const exported = await exportRun(dir, path.join(root, 'no-lecam-export'));
    expect(exported.manifest.training.recipe).not.toHaveProperty('lecam');
  }, 120_000);
});

describe('a run with statistics matching', () => {
  /** Two classes of 16-px colour squares on white: a flat red one and a shaded blue one. */
  async function colourFolder(): Promise<string> {
    const dir = path.join(root, 'statistics-data');
    const { encode } = await import('fast-png');
    for (const [name, paint] of [
      ['flat', (x: number, y: number) => [220, 30 + x, 30 + y]],
      ['shaded', (x: number, y: number) => [20 + 10 * x, 40 + 10 * y, 230]],
    ] as const) {
      await mkdir(path.join(dir, name), { recursive: true });
      for (let i = 0; i < 4; i++) {
        const data = new Uint8Array(16 * 16 * 3).fill(255);
        for (let y = 2 + i; y < 12 + i; y++)
          for (let x = 3; x < 13; x++) data.set(paint(name === 'flat' ? 0 : x - 3, name === 'flat' ? 0 : y - 2 - i), (y * 16 + x) * 3);
        await writeFile(path.join(dir, name, `${i}.png`), encode({ width: 16, height: 16, data, channels: 3 }));
      }
    }
    return dir;
  }

  it('records it, resumes exactly (the class means recomputed from the data), and names it in the manifest and the card', async () => {
    const data = `folder:${await colourFolder()}`;
    const matched = (outDir: string, extra: Partial<TrainOptions> = {}) =>
      tinyRun('cpu', outDir, { data, batchSize: 4, recipe: { ...ARTICLE_RECIPE, statisticsMatching: 2 }, seed: 'statistics', ...extra });
    const { straight: a, resumed: b, split } = await straightAndResumed('statistics', matched);
    expect(JSON.parse(await readFile(path.join(split, 'run.json'), 'utf8')).recipe.statisticsMatching).toBe(2);
    expectSameTensors(a, b);
    // The term changes what G learns: the same run without it ends elsewhere.
    const plainDir = path.join(root, 'statistics-off');
    await runTraining(matched(plainDir, { steps: 4, recipe: ARTICLE_RECIPE }));
    const plain = (await loadLatestCheckpoint(plainDir)).checkpoint!;
    const kernel = 'generator/project/kernel';
    expect(Buffer.from(plain.tensors.get(kernel)!.data.buffer).equals(Buffer.from(a.tensors.get(kernel)!.data.buffer))).toBe(false);
    const exported = await exportRun(split, path.join(root, 'statistics-export'));
    expect(exported.manifest.training.recipe?.statisticsMatching).toBe(2);
    expect(await readFile(path.join(root, 'statistics-export', 'README.md'), 'utf8')).toMatch(/colour and gradient statistics matched/);
  }, 120_000);

  it('is refused on greyscale data, naming the flag', async () => {
    const r = await gan('train', '--data', 'mnist', '--statistics-matching', '1', ...oneQuietStep(path.join(root, 'never')));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --statistics-matching: statistics matching compares colours, and mnist is greyscale/);
  });
});
