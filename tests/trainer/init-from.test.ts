/**
 * `gan train --init-from`: a new run whose first weights are another run's — G exactly, D where the
 * weights fit (the first kernel sliced to the image channels going from class planes to projection),
 * its own everything else; refused for another architecture and with --resume; recorded in run.json,
 * the manifest and the card.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLatestCheckpoint } from '@gan/trainer/train/checkpoint';
import { EMA_PREFIX } from '@gan/trainer/train/ema';
import { type InitSource, InitFromError, initialiseFrom, readInitSource } from '@gan/trainer/train/init-from';
import { type TrainOptions, runTraining } from '@gan/trainer/train/run';
import { ARTICLE_RECIPE, type RunSettings } from '@gan/trainer/train/settings';
import { TrainingState } from '@gan/trainer/train/state';
import { exportRun } from '@gan/trainer/export/export';
import { ganInProcess as gan } from './gan-in-process.ts';
import { oneQuietStep, tinyRun } from './tiny-run.ts';
import { generatorInput, latentFromSeed } from '@gan/core';
import { loadGenerator } from '@gan/core/load-generator';

let root: string;
let sourceDir: string;
let source: InitSource;

/** The fine-tune the task is about: a planes D without EMA → a projection D with EMA. */
const fineTune = { ...ARTICLE_RECIPE, conditioning: 'projection' as const, ema: 0.99 };

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-init-from-'));
  sourceDir = path.join(root, 'source');
  await runTraining(tinyRun('cpu', sourceDir, { steps: 2, seed: 'source' }));
  source = await readInitSource(sourceDir);
}, 120_000);

const tiny = (outDir: string, extra: Partial<TrainOptions> = {}) =>
  tinyRun('cpu', outDir, { data: undefined, recipe: fineTune, seed: 'fine-tune', initFrom: source, ...extra });

describe('a run started from another run', () => {
  it("starts with the source's G exactly and its D's weights where they fit; the average starts from that G", () => {
    const before = tf.memory().numTensors;
    const settings: RunSettings = { ...source.settings, seed: 'fine-tune', recipe: fineTune, initFrom: source.provenance };
    const state = TrainingState.initial(settings);
    const transfer = initialiseFrom(state, source);
    const saved = source.checkpoint.tensors;

    for (const w of state.models.generator.weights)
      expect(Array.from(w.read().dataSync()), w.originalName).toEqual(Array.from(saved.get(`generator/${w.originalName}`)!.data));
    for (const w of state.models.generator.trainableWeights)
      expect(Array.from(state.average!.shadow.get(w.originalName)!.dataSync())).toEqual(Array.from(w.read().dataSync()));

    const d = new Map(state.models.discriminator.weights.map((w) => [w.originalName, w]));
    // Batch-norm moving statistics travel with the weights.
    for (const name of ['down2/kernel', 'down2_bn/gamma', 'down2_bn/moving_mean', 'down2_bn/moving_variance', 'score/kernel'])
      expect(Array.from(d.get(name)!.read().dataSync()), name).toEqual(Array.from(saved.get(`discriminator/${name}`)!.data));
    expect(transfer.copied).toContain('discriminator/down2_bn/moving_variance');

    // mnist: 1 image channel + 10 class planes → the image channel's slice of every tap.
    const planes = saved.get('discriminator/down1/kernel')!;
    expect(planes.shape).toEqual([4, 4, 11, 4]);
    const kernel = d.get('down1/kernel')!.read();
    expect(kernel.shape).toEqual([4, 4, 1, 4]);
    const sliced = kernel.dataSync();
    for (let p = 0; p < 16; p++) for (let f = 0; f < 4; f++) expect(sliced[p * 4 + f]).toBe(planes.data[p * 11 * 4 + f]);
    expect(transfer.sliced).toEqual(['discriminator/down1/kernel [4,4,11,4] → [4,4,1,4]']);

    expect(transfer.zeroed).toEqual(['discriminator/class_embedding/kernel']);
    expect(
      d
        .get('class_embedding/kernel')!
        .read()
        .dataSync()
        .every((v) => v === 0),
    ).toBe(true);
    expect(transfer.fresh).toEqual([]);
    expect(transfer.dropped).toEqual([]);

    state.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains from there, records where it started, exports it, and resumes as any run', async () => {
    const outDir = path.join(root, 'fine-tune');
    const lines: string[] = [];
    const tensors = tf.memory().numTensors;
    const result = await runTraining(tiny(outDir, { steps: 2, info: (l) => lines.push(l) }));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Number.isFinite(result.last!.d_loss) && Number.isFinite(result.last!.g_loss)).toBe(true);
    const log = lines.join('\n');
    expect(log).toMatch(/initialising from source at step 2/);
    expect(log).toMatch(/G: copied all \d+ of the source's weights/);
    expect(log).toMatch(/D: sliced to what both have \(image channels, classes\): down1\/kernel \[4,4,11,4\] → \[4,4,1,4\]/);
    expect(log).toMatch(/D: zero \(new\): class_embedding\/kernel/);

    const provenance = { run: 'source', step: 2, tensorsSha256: source.checkpoint.state.tensorsSha256 };
    const runJson = JSON.parse(await readFile(path.join(outDir, 'run.json'), 'utf8'));
    expect(runJson.initFrom).toEqual(provenance);
    expect(runJson.recipe).toMatchObject({ conditioning: 'projection', ema: 0.99 });
    expect(runJson.seed).toBe('fine-tune');

    // Its own step count and Adam state, and weights that moved from the source's.
    const tuned = (await loadLatestCheckpoint(outDir)).checkpoint!;
    expect(tuned.state.step).toBe(2);
    const kernel = 'generator/to_image/kernel';
    const moved = tuned.tensors.get(kernel)!.data;
    expect(moved.every(Number.isFinite)).toBe(true);
    expect(Array.from(moved)).not.toEqual(Array.from(source.checkpoint.tensors.get(kernel)!.data));
    expect(tuned.tensors.has(`${EMA_PREFIX}/to_image/kernel`)).toBe(true);

    const exported = await exportRun(outDir, path.join(root, 'fine-tune-export'));
    expect(exported.manifest.training.initFrom).toEqual(provenance);
    expect(exported.manifest.training.steps).toBe(2);
    const card = await readFile(path.join(root, 'fine-tune-export', 'README.md'), 'utf8');
    expect(card).toMatch(/## Training\n2 steps of fine-tuning from the run `source`'s weights at its step 2, at batch 8/);

    // Its checkpoints hold everything: --resume needs no --init-from, and the provenance stays.
    const resumed = await runTraining(tiny(outDir, { steps: 4, resume: true, initFrom: undefined }));
    expect(resumed.resumedFrom).toBe(2);
    expect(resumed.step).toBe(4);
    expect(JSON.parse(await readFile(path.join(outDir, 'run.json'), 'utf8')).initFrom).toEqual(provenance);
  }, 120_000);

  it('turns a plain G into a class-conditional one that starts with its exact images, trains, exports and serves', async () => {
    const outDir = path.join(root, 'class-batch-norm');
    const lines: string[] = [];
    await runTraining(tiny(outDir, { steps: 2, generatorConditioning: 'batch-norm', info: (l) => lines.push(l) }));
    expect(lines.join('\n')).toMatch(/G: per-class gamma 1 and beta 0 \(new, class-conditional batch norm\): project_bn_class\/gamma, /);
    const runJson = JSON.parse(await readFile(path.join(outDir, 'run.json'), 'utf8'));
    expect(runJson.config.generatorConditioning).toBe('batch-norm');

    // Before any step: the source's weights, and the class affine's identity.
    const settings: RunSettings = { ...source.settings, config: runJson.config, recipe: fineTune, initFrom: source.provenance };
    const state = TrainingState.initial(settings);
    const transfer = initialiseFrom(state, source);
    expect(transfer.fresh).toEqual(['project', 'up1'].flatMap((l) => [`generator/${l}_bn_class/gamma`, `generator/${l}_bn_class/beta`]));
    for (const w of state.models.generator.weights) {
      const saved = source.checkpoint.tensors.get(`generator/${w.originalName}`);
      const expected = saved ? Array.from(saved.data) : Array.from(w.read().dataSync(), () => (w.originalName.endsWith('gamma') ? 1 : 0));
      expect(Array.from(w.read().dataSync()), w.originalName).toEqual(expected);
    }
    state.dispose();

    // Two steps later the class rows of the classes it saw have moved, and the export serves them.
    const tuned = (await loadLatestCheckpoint(outDir)).checkpoint!;
    expect(Array.from(tuned.tensors.get('generator/up1_bn_class/beta')!.data).some((v) => v !== 0)).toBe(true);
    const exportDir = path.join(root, 'class-batch-norm-export');
    const exported = await exportRun(outDir, exportDir);
    expect(exported.manifest.architecture.generatorConditioning).toBe('batch-norm');
    const files = new Map<string, Uint8Array>();
    for (const f of exported.manifest.files) files.set(f.path, new Uint8Array(await readFile(path.join(exportDir, f.path))));
    const generator = await loadGenerator('x@1', exported.manifest, async (p) => files.get(p));
    const images = generator.forward(
      generatorInput(
        exported.manifest.architecture,
        [0, 1].map(() => latentFromSeed('same', 8)),
        [3, 7],
      ),
    );
    // Served without its class gamma and beta (as a plain G), the same inputs give other images.
    const { generatorConditioning: _, ...plainArchitecture } = exported.manifest.architecture;
    const plain = await loadGenerator('x@1', { ...exported.manifest, architecture: plainArchitecture }, async (p) => files.get(p));
    const without = plain.forward(
      generatorInput(
        plainArchitecture,
        [0, 1].map(() => latentFromSeed('same', 8)),
        [3, 7],
      ),
    );
    expect(tf.max(tf.abs(tf.sub(images, without))).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([images, without]);
    generator.dispose();
    plain.dispose();

    // A class-conditional G is not a plain one: the other way round is refused.
    const back = runTraining(
      tinyRun('cpu', path.join(root, 'back'), { data: undefined, recipe: fineTune, initFrom: await readInitSource(outDir) }),
    );
    await expect(back).rejects.toThrow(/--generator-conditioning input here, batch-norm there/);
  }, 120_000);

  it('reads one named checkpoint directory as well as a run', async () => {
    const named = await readInitSource(path.join(sourceDir, 'checkpoints', 'step-000002'));
    expect(named.provenance).toEqual(source.provenance);
  });

  it('refuses another architecture and a resume', async () => {
    await expect(runTraining(tiny(path.join(root, 'wider'), { generatorWidth: 8 }))).rejects.toThrow(/generatorWidth 8 here, 4 there/);
    await expect(runTraining(tiny(path.join(root, 'wider'), { generatorWidth: 8 }))).rejects.toBeInstanceOf(InitFromError);
    // G's kernels are another shape with resize upsampling
    await expect(runTraining(tiny(path.join(root, 'resize'), { recipe: { ...fineTune, upsampling: 'resize' } }))).rejects.toThrow(
      /upsampling resize here, transposed there/,
    );
    await expect(runTraining(tiny(path.join(root, 'resumed'), { resume: true }))).rejects.toBeInstanceOf(InitFromError);
    await expect(readInitSource(path.join(root, 'nothing-here'))).rejects.toBeInstanceOf(InitFromError);
  });
});

describe('gan train --init-from', () => {
  it('refuses an architecture option that differs from the source, naming --init-from', async () => {
    const r = await gan('train', '--init-from', sourceDir, '--latent-size', '9', '--out', path.join(root, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --init-from: source was trained with --latent-size 8, not --latent-size 9/);
    const data = await gan('train', '--init-from', sourceDir, '--data', 'twemoji', '--out', path.join(root, 'never'));
    expect(data.code).toBe(2);
    expect(data.stderr).toMatch(/error: --init-from: source was trained with --data mnist, not --data twemoji/);
  });

  it("keeps the source's upsampling, and refuses another", async () => {
    const resizeSource = path.join(root, 'resize-source');
    await runTraining(tinyRun('cpu', resizeSource, { steps: 2, seed: 'source', recipe: { ...ARTICLE_RECIPE, upsampling: 'resize' } }));
    const out = path.join(root, 'from-resize');
    const r = await gan('train', '--init-from', resizeSource, ...oneQuietStep(out));
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')).recipe.upsampling).toBe('resize');
    const other = await gan('train', '--init-from', resizeSource, '--upsampling', 'transposed', '--out', path.join(root, 'never'));
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/error: --init-from: resize-source was trained with --upsampling resize, not --upsampling transposed/);
  }, 120_000);

  it("keeps a class-conditional source's batch norm unless told otherwise, and refuses to drop it", async () => {
    const cbnSource = path.join(root, 'cbn-source');
    await runTraining(tinyRun('cpu', cbnSource, { steps: 2, seed: 'source', generatorConditioning: 'batch-norm' }));
    const out = path.join(root, 'from-cbn');
    const r = await gan('train', '--init-from', cbnSource, ...oneQuietStep(out));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')).config.generatorConditioning).toBe('batch-norm');
    const dropped = await gan('train', '--init-from', cbnSource, '--generator-conditioning', 'input', '--out', path.join(root, 'never'));
    expect(dropped.code).toBe(2);
    expect(dropped.stderr).toMatch(/error: --init-from: .*--generator-conditioning input here, batch-norm there/);
  }, 120_000);

  it('refuses class-conditional batch norm without classes', async () => {
    const r = await gan(
      'train',
      '--data',
      'mnist',
      '--no-labels',
      '--generator-conditioning',
      'batch-norm',
      '--out',
      path.join(root, 'never'),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --generator-conditioning: batch-norm needs class labels, and this run has none \(--no-labels\)/);
  });

  it('refuses --resume with it', async () => {
    const r = await gan('train', '--init-from', sourceDir, '--resume', '--out', path.join(root, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --init-from: a resumed run already has its weights/);
  });

  it('refuses a directory without a checkpoint', async () => {
    const r = await gan('train', '--init-from', path.join(root, 'nothing-here'), '--out', path.join(root, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --init-from: .*nothing-here has no usable checkpoint/);
  });
});
