/**
 * `gan export`: a run's newest checkpoint → the generator as the worker loads it.
 *
 *   model.json, group1-shardKofN.bin   tfjs layers format (topology + weights, BN in inference form)
 *   sample.png                          a grid from the fixed preview latents, rendered from the
 *                                       exported files through the serving path
 *   progress.png, loss.svg              the fixed-noise previews over training and the loss curve, from the run
 *   README.md                           the model card (architecture, data and licence, training, metrics)
 *   manifest.json                       ManifestSchema, sha256 of every other file; written last
 *
 * The directory is assembled beside the target and renamed into place.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { decode as decodePng } from 'fast-png';
import path from 'node:path';
import { type Manifest, ModelNameSchema, buildManifest, encodeModelFiles, encodePng, gridPng, sha256Hex, versionName } from '@gan/core';
import { buildGenerator } from '@gan/core/model';
import { asTransposedWeight } from '@gan/core/resize-conv';
import { loadLatestCheckpoint } from '../train/checkpoint.ts';
import { readMetrics } from '../train/metrics.ts';
import { previewLayout } from '../train/preview.ts';
import { type RunSettings, type TrainingRecipe, readRunSettings } from '../train/settings.ts';
import { EMA_PREFIX } from '../train/ema.ts';
import { generatorFromFiles } from './load.ts';
import { writeDirectoryAtomically } from '../atomic-write.ts';

export class ExportError extends Error {
  override name = 'ExportError';
}

export interface ExportOptions {
  /** Model name (URL slug); default from the data set. */
  name?: string;
  /** Default: versionName(now, sha256 of the weights). */
  version?: string;
  shardBytes?: number;
  float16?: boolean;
  now?: Date;
  /** Steps of metrics averaged into the manifest. */
  metricsWindow?: number;
  /**
   * Markdown appended to the model card: what the run alone cannot say (an ablation, a comparison
   * with another trainer, known weaknesses). Part of the card, so covered by the manifest's sha256.
   */
  cardNotes?: string;
}

export interface ExportResult {
  outDir: string;
  manifest: Manifest;
  files: string[];
}

/** A model name from a data set name: mnist, twemoji, or the folder's name as a slug. */
export function defaultModelName(dataset: string): string {
  const base = dataset.startsWith('folder:') ? path.basename(path.resolve(dataset.slice('folder:'.length))) : dataset;
  const slug = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return slug || 'model';
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
}

function recipeText(recipe: TrainingRecipe): string {
  const loss = recipe.loss === 'hinge' ? 'hinge loss' : 'BCE with the non-saturating generator loss';
  const augment = recipe.diffAugment.length ? `; DiffAugment (${recipe.diffAugment.join(', ')}) on every image D sees` : '';
  const ema =
    recipe.ema !== null
      ? `; the exported weights are a moving average of G's (decay ${recipe.ema}, batch-norm statistics recomputed for them)`
      : '';
  const classes =
    recipe.classLoss > 0
      ? `; an auxiliary class loss (AC-GAN) of weight ${recipe.classLoss} on a class head of D, for real images and for G${recipe.fakeClass ? ", the head with a generated class fitted to G's images" : ''}`
      : '';
  const upsampling =
    recipe.upsampling === 'resize'
      ? '; G trained with nearest upsampling and 3x3 convolutions (exported as the transposed convolutions they equal)'
      : '';
  const spectral = recipe.spectralNorm ? "; spectral normalisation of D's convolutions (D without batch norms)" : '';
  const lecam = recipe.lecam > 0 ? `; LeCam regularisation of D (weight ${recipe.lecam})` : '';
  const statistics =
    recipe.statisticsMatching > 0
      ? `; G's colour and gradient statistics matched to the real images' class by class (weight ${recipe.statisticsMatching})`
      : '';
  const vision =
    recipe.visionAided > 0
      ? `; a vision-aided discriminator beside D (trainable heads on a frozen ${recipe.visionNetwork ?? 'feature network'}, hinge loss), G's weight on it ${recipe.visionAided}, ramped in over ${recipe.visionWarmup} steps`
      : '';
  return `${loss}${augment}${ema}${classes}${upsampling}${spectral}${lecam}${statistics}${vision}`;
}

/** The recipe as the manifest records it: options left at their off value are left out, so models trained before them keep the manifest they always had. */
function manifestRecipe(recipe: TrainingRecipe): NonNullable<Manifest['training']['recipe']> {
  const { classLoss, fakeClass, upsampling, spectralNorm, lecam, statisticsMatching, visionAided, visionWarmup, visionNetwork, ...rest } =
    recipe;
  return {
    ...rest,
    ...(classLoss > 0 && { classLoss }),
    ...(fakeClass && { fakeClass }),
    ...(upsampling !== 'transposed' && { upsampling }),
    ...(spectralNorm && { spectralNorm }),
    ...(lecam > 0 && { lecam }),
    ...(statisticsMatching > 0 && { statisticsMatching }),
    ...(visionAided > 0 && { visionAided: { weight: visionAided, warmup: visionWarmup, network: visionNetwork ?? 'unknown' } }),
  };
}

/** "N steps", and for a fine-tuned run what they were added to: the card must not pass them off as all of its training. */
function trainingSteps(training: Manifest['training']): string {
  const from = training.initFrom;
  return from
    ? `${training.steps} steps of fine-tuning from the run \`${from.run}\`'s weights at its step ${from.step},`
    : `${training.steps} steps`;
}

function modelCard(manifest: Manifest, settings: RunSettings, progressSteps: number[], hasLoss: boolean): string {
  const a = manifest.architecture;
  const recipe = settings.recipe;
  const m = manifest.metrics as Record<string, number>;
  const fmt = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : String(v));
  return `# ${manifest.name} — ${manifest.version}

A DCGAN generator (TensorFlow.js layers format) producing ${a.imageSize}x${a.imageSize} ${a.channels === 1 ? 'greyscale' : 'RGB'} images
from a ${a.latentSize}-value noise vector${a.numClasses ? `, conditioned on one of ${a.numClasses} classes` : ''}.

![Samples from the fixed preview latents](sample.png)

Serve it with \`/v1/models/${manifest.name}/image.png?seed=<any text>\`${a.numClasses ? ' (add `&class=<name or index>`)' : ''};
the grid above is \`/v1/models/${manifest.name}/grid.png?seed=preview&${a.numClasses && a.numClasses <= 16 ? 'class=each&cols=8' : 'rows=8&cols=8'}\`.

## Architecture
| | |
|---|---|
| image | ${a.imageSize}x${a.imageSize}x${a.channels} |
| latent size | ${a.latentSize} |
| generator width | ${a.generatorWidth} |
| discriminator width (training only) | ${a.discriminatorWidth} |
| classes | ${manifest.classes.length ? manifest.classes.join(', ') : 'none (unconditional)'} |
| weights | ${manifest.weightsFormat} |

Conditional models are conditional DCGANs: the one-hot class is appended to z${
    a.generatorConditioning === 'batch-norm'
      ? ", and selects a learnt gamma and beta after each of the generator's batch norms (class-conditional batch norm)"
      : ''
  }, and given to the
discriminator ${
    recipe.conditioning === 'projection'
      ? 'by projection (a learned class embedding dotted with its last features, Miyato & Koyama 2018)'
      : 'as constant image planes'
  }.

## Data
**${manifest.dataset.name}** (${manifest.dataset.images ?? '?'} training images), licence **${manifest.dataset.licence}**.
${manifest.dataset.attribution ? `\n${manifest.dataset.attribution}\n` : ''}
## Training
${trainingSteps(manifest.training)} at batch ${manifest.training.batchSize} on the ${manifest.training.backend} backend
(${(manifest.training.seconds / 60).toFixed(1)} min), seed \`${settings.seed}\`; Adam lr ${settings.generatorAdam.learningRate} (G) /
${settings.discriminatorAdam.learningRate} (D), betas (${settings.generatorAdam.beta1}, ${settings.generatorAdam.beta2});
${recipeText(recipe)}, alternating D and G steps each iteration.

Means over the last ${m.window ?? '?'} steps: D loss ${fmt(m.d_loss)}, G loss ${fmt(m.g_loss)}, D(x) ${fmt(m.d_x)}, D(G(z)) ${fmt(m.d_g_z)}.
${
  progressSteps.length
    ? `
The same fixed latents over training (the first row of the preview grid), top to bottom at steps
${progressSteps.join(', ')}:

![The fixed-noise previews over training](progress.png)
`
    : ''
}${hasLoss ? '\n![D and G losses over training](loss.svg)\n' : ''}`;
}

/**
 * The fixed-noise progression: the first row of up to `count` preview grids, evenly spaced over the
 * run up to `lastStep`, stacked top to bottom. Undefined when the run kept no previews.
 */
async function progressStrip(runDir: string, lastStep: number, count = 8): Promise<{ png: Uint8Array; steps: number[] } | undefined> {
  const dir = path.join(runDir, 'previews');
  if (!existsSync(dir)) return undefined;
  const previews = (await readdir(dir))
    .map((f) => ({ file: f, step: Number(/^step-(\d+)\.png$/.exec(f)?.[1] ?? NaN) }))
    .filter((p) => p.step <= lastStep)
    .sort((a, b) => a.step - b.step);
  if (previews.length === 0) return undefined;
  const picked = [
    ...new Set(
      Array.from({ length: Math.min(count, previews.length) }, (_, i) =>
        Math.round(((previews.length - 1) * i) / Math.max(1, Math.min(count, previews.length) - 1)),
      ),
    ),
  ].map((i) => previews[i]);
  const images = await Promise.all(picked.map(async (p) => decodePng(await readFile(path.join(dir, p.file)))));
  const { width, channels } = images[0];
  if (images.some((im) => im.width !== width || im.channels !== channels || im.depth !== 8)) return undefined;
  // A preview grid is cells of the image size with 2 pixels of padding: its first row is the top strip.
  const strip = Math.min(images[0].height, Math.round((width - 2) / 8));
  const data = new Uint8Array(width * strip * images.length * channels);
  images.forEach((im, i) => {
    data.set((im.data as Uint8Array).subarray(0, width * strip * channels), i * width * strip * channels);
  });
  return { png: encodePng(width, strip * images.length, channels as 1 | 3, data), steps: picked.map((p) => p.step) };
}

/** Renders the preview grid from export files (decoded as the worker decodes them). */
async function sampleGrid(manifest: Manifest, files: Map<string, Uint8Array>): Promise<Uint8Array> {
  const config = manifest.architecture;
  const generator = await generatorFromFiles(manifest, async (p) => {
    const bytes = files.get(p);
    if (!bytes) throw new ExportError(`${p} is missing from the export`);
    return bytes;
  });
  try {
    const { rows, cols, cells } = previewLayout(config);
    return gridPng(generator, cells, { rows, cols, padding: 2 });
  } finally {
    generator.dispose();
  }
}

export async function exportRun(runDir: string, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const { checkpoint, rejected } = await loadLatestCheckpoint(runDir);
  if (!checkpoint) {
    const why = rejected.length ? `: ${rejected.map((r) => r.reason).join('; ')}` : '';
    throw new ExportError(`${runDir} has no usable checkpoint${why}`);
  }
  const settings = readRunSettings(checkpoint.state.settings, checkpoint.dir);
  const config = checkpoint.state.config;
  const name = options.name ?? defaultModelName(settings.dataset.name);
  if (!ModelNameSchema.safeParse(name).success) throw new ExportError(`model name "${name}" must be a lower-case slug (a-z, 0-9, -)`);

  // The generator as a layers model: its topology is what tf.loadLayersModel reads (a class-conditional
  // G's names the ClassAffine layer, which importing core/src/class-batch-norm.ts registers).
  const generator = buildGenerator(config);
  const recipe = settings.recipe;
  // With a moving average the exported network is the averaged one (standing statistics included).
  const prefix = recipe.ema !== null ? EMA_PREFIX : 'generator';
  let files: Map<string, Uint8Array>;
  try {
    const weights = generator.weights.map((w) => {
      const saved = checkpoint.tensors.get(`${prefix}/${w.originalName}`);
      if (!saved) throw new ExportError(`the checkpoint lacks generator weight ${w.originalName}`);
      // A resize-convolution G (recipe.upsampling) is exported as the transposed-convolution G it equals.
      const { shape, data } = asTransposedWeight(w.originalName, saved);
      return { name: w.originalName, shape, data };
    });
    files = encodeModelFiles({
      weights,
      modelTopology: generator.toJSON(null, false),
      options: { shardBytes: options.shardBytes, float16: options.float16 },
    });
  } finally {
    generator.dispose();
  }

  const shards = [...files].filter(([p]) => p !== 'model.json').map(([, b]) => b);
  const joined = new Uint8Array(shards.reduce((s, b) => s + b.byteLength, 0));
  shards.reduce((offset, b) => (joined.set(b, offset), offset + b.byteLength), 0);
  const now = options.now ?? new Date();
  const version = options.version ?? versionName(now, await sha256Hex(joined as Uint8Array<ArrayBuffer>));

  const rows = (await readMetrics(path.join(runDir, 'metrics.jsonl'))).filter((r) => r.step <= checkpoint.state.step);
  const window = rows.slice(-(options.metricsWindow ?? 100));
  const metrics = {
    window: window.length,
    d_loss: mean(window.map((r) => r.d_loss)),
    g_loss: mean(window.map((r) => r.g_loss)),
    d_x: mean(window.map((r) => r.d_x)),
    d_g_z: mean(window.map((r) => r.d_g_z)),
    images_per_s: mean(window.map((r) => r.images_per_s)),
  };
  const base = {
    name,
    version,
    createdAt: now.toISOString(),
    classes: settings.classNames,
    architecture: config,
    weightsFormat: options.float16 ? ('float16' as const) : ('float32' as const),
    dataset: {
      name: settings.dataset.name,
      licence: settings.dataset.licence,
      attribution: settings.dataset.attribution,
      images: settings.dataset.images,
    },
    training: {
      steps: checkpoint.state.step,
      batchSize: settings.batchSize,
      backend: settings.backend,
      seconds: checkpoint.state.seconds,
      seed: settings.seed,
      recipe: manifestRecipe(recipe),
      ...(settings.initFrom && { initFrom: settings.initFrom }),
    },
    metrics,
  };
  // The card describes the manifest, so build the manifest's contents first, then list the card in it.
  const draft = await buildManifest(base, files);
  files.set('sample.png', await sampleGrid(draft, files));
  const progress = await progressStrip(runDir, checkpoint.state.step);
  if (progress) files.set('progress.png', progress.png);
  const lossPath = path.join(runDir, 'previews', 'loss.svg');
  if (existsSync(lossPath)) files.set('loss.svg', new Uint8Array(await readFile(lossPath)));
  const card = modelCard(draft, settings, progress?.steps ?? [], existsSync(lossPath));
  const notes = options.cardNotes?.trim();
  files.set('README.md', new TextEncoder().encode(notes ? `${card.trimEnd()}\n\n${notes}\n` : card));
  const manifest = await buildManifest(base, files);

  const target = path.resolve(outDir);
  if (existsSync(target)) {
    const entries = await readdir(target);
    if (entries.length > 0 && !entries.includes('manifest.json')) {
      throw new ExportError(`${target} exists and is not an earlier export (no manifest.json): choose an empty or new --out`);
    }
  }
  await writeDirectoryAtomically(target, [...files, ['manifest.json', JSON.stringify(manifest, null, 2)]]);
  return { outDir: target, manifest, files: [...files.keys(), 'manifest.json'] };
}
