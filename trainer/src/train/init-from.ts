/**
 * Starting a new run from another run's trained weights (`gan train --init-from`): fine-tuning with a
 * recipe the source could not change once it had started (a projection D, a moving average of G,
 * another loss or augmentation). The new run is a run of its own — its settings, seed, data order,
 * step counter and Adam states are new — and only its initial weights come from the source's newest
 * valid checkpoint, or the checkpoint directory named, read and sha256-verified by checkpoint.ts.
 *
 * G must be the source's G exactly, so the data set and the architecture are the source's, but for
 * one change: a plain G may become a class-conditional one (`--generator-conditioning batch-norm`),
 * whose per-class gamma and beta start at 1 and 0, so it draws the source's images. D takes
 * every weight whose name and shape match, batch-norm moving statistics included; the first
 * convolution's kernel keeps the image channels' slices when one D has class planes and the other has
 * none; the class head's kernel and bias keep the K real classes' columns when one head has the
 * generated class (K + 1 logits) and the other has not; weights only the new D has keep their
 * initialisation, the class embedding excepted (below).
 */
import { settleSpectralNorms } from '@gan/core/spectral-norm';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type Checkpoint, CheckpointError, type NamedArray, loadLatestCheckpoint, readCheckpoint } from './checkpoint.ts';
import { type InitFrom, type RunSettings, RunSettingsError, readRunSettings } from './settings.ts';
import type { TrainingState } from './state.ts';
import { hasClassBatchNorm } from '@gan/core/config';
import { isClassAffineWeight } from '@gan/core/class-batch-norm';

/** A run cannot be started from the weights asked for (no checkpoint, another architecture, a resume). */
export class InitFromError extends Error {
  override name = 'InitFromError';
}

/** The checkpoint a new run takes its weights from, the source run's settings and what run.json records of it. */
export interface InitSource {
  checkpoint: Checkpoint;
  settings: RunSettings;
  provenance: InitFrom;
}

/** Reads `from`, a run directory (its newest valid checkpoint) or one checkpoint directory (…/checkpoints/step-NNNNNN). */
export async function readInitSource(from: string): Promise<InitSource> {
  const dir = path.resolve(from);
  let checkpoint: Checkpoint | undefined;
  let runDir = dir;
  if (existsSync(path.join(dir, 'state.json'))) {
    try {
      checkpoint = await readCheckpoint(dir);
    } catch (err) {
      if (err instanceof CheckpointError) throw new InitFromError(err.message);
      throw err;
    }
    runDir = path.basename(path.dirname(dir)) === 'checkpoints' ? path.dirname(path.dirname(dir)) : path.dirname(dir);
  } else {
    const { checkpoint: latest, rejected } = await loadLatestCheckpoint(dir);
    if (!latest) {
      const why = rejected.length ? `: ${rejected.map((r) => r.reason).join('; ')}` : '';
      throw new InitFromError(`${dir} has no usable checkpoint${why}`);
    }
    checkpoint = latest;
  }
  let settings: RunSettings;
  try {
    settings = readRunSettings(checkpoint.state.settings, checkpoint.dir);
  } catch (err) {
    if (err instanceof RunSettingsError) throw new InitFromError(err.message);
    throw err;
  }
  return {
    checkpoint,
    settings,
    provenance: { run: path.basename(runDir), step: checkpoint.state.step, tensorsSha256: checkpoint.state.tensorsSha256 },
  };
}

/**
 * The options that fix G's architecture or the data it learns, as the source ran with them: a run
 * started from it takes these rather than the command line's defaults. G's upsampling is one: it
 * decides the shapes of G's kernels.
 */
export function sourceArchitecture(settings: RunSettings) {
  const { config } = settings;
  return {
    data: settings.data,
    imageSize: settings.imageSize,
    channels: settings.channels,
    labels: settings.labels,
    latentSize: config.latentSize,
    generatorWidth: config.generatorWidth,
    discriminatorWidth: config.discriminatorWidth,
    upsampling: settings.recipe.upsampling,
  };
}
export type SourceArchitecture = ReturnType<typeof sourceArchitecture>;

/** Throws InitFromError unless the new run's networks are the source's shapes on the source's data set and classes. */
export function checkSameArchitecture(source: InitSource, settings: RunSettings): void {
  const differences: string[] = [];
  const theirs = { ...sourceArchitecture(source.settings), numClasses: source.settings.config.numClasses };
  const ours = { ...sourceArchitecture(settings), numClasses: settings.config.numClasses };
  for (const key of Object.keys(theirs) as (keyof typeof theirs)[])
    if (theirs[key] !== ours[key]) differences.push(`${key} ${ours[key]} here, ${theirs[key]} there`);
  if (differences.length === 0 && theirs.numClasses && settings.classNames.join('\n') !== source.settings.classNames.join('\n'))
    differences.push(`classes ${settings.classNames.join(', ')} here, ${source.settings.classNames.join(', ')} there`);
  // A plain G's weights are a class-conditional one's (model.ts), not the other way round.
  if (hasClassBatchNorm(source.settings.config) && !hasClassBatchNorm(settings.config))
    differences.push('--generator-conditioning input here, batch-norm there');
  if (differences.length)
    throw new InitFromError(
      `the new run's generator must be ${source.provenance.run}'s exactly, and ${differences.join('; ')}: the data set and architecture are the source's`,
    );
}

/** What became of each of the new networks' weights (names as in checkpoints, `generator/…`, `discriminator/…`). */
export interface WeightTransfer {
  copied: string[];
  /** The first convolution's kernel with the input channels both Ds have, the class head with the classes both heads have. */
  sliced: string[];
  /** Only in the new D: zero (the class embedding) or its initialiser's values. */
  zeroed: string[];
  /** Only in the new networks: D's at their initialiser's values, a class-conditional G's per-class gamma and beta at 1 and 0. */
  fresh: string[];
  /** Only in the source. */
  dropped: string[];
}

function write(weight: tfl.LayerVariable, values: Float32Array, shape: number[]): void {
  const t = tf.tensor(values, shape);
  weight.write(t);
  t.dispose();
}

/**
 * Both Ds' first kernel is [kh, kw, input channels, filters], the image's channels first and then
 * the class planes of a `planes` D: [4, 4, C+K, F] on one side, [4, 4, C, F] on the other. The new
 * kernel takes the source's values for the channels both have and keeps its own for the others.
 */
function imageChannelSlices(source: NamedArray, target: Float32Array, shape: number[]): Float32Array | undefined {
  const [kh, kw, cin, filters] = shape;
  const [skh, skw, scin, sfilters] = source.shape;
  if (shape.length !== 4 || source.shape.length !== 4 || skh !== kh || skw !== kw || sfilters !== filters || scin === cin) return undefined;
  const shared = Math.min(cin, scin);
  const out = target.slice();
  for (let p = 0; p < kh * kw; p++)
    for (let c = 0; c < shared; c++)
      out.set(source.data.subarray((p * scin + c) * filters, (p * scin + c + 1) * filters), (p * cin + c) * filters);
  return out;
}

/**
 * The class head's weights are [φ, K] and [K] on one side, [φ, K + 1] and [K + 1] on the other (the
 * generated class last, model.ts). The new weight takes the source's values for the classes both
 * have and keeps its own for the generated one.
 */
function classColumns(source: NamedArray, target: Float32Array, shape: number[]): Float32Array | undefined {
  const rows = shape.slice(0, -1);
  const columns = shape[shape.length - 1];
  const sourceColumns = source.shape[source.shape.length - 1];
  if (!sameShape(source.shape.slice(0, -1), rows) || Math.abs(sourceColumns - columns) !== 1) return undefined;
  const shared = Math.min(columns, sourceColumns);
  const out = target.slice();
  const count = rows.reduce((a, b) => a * b, 1);
  for (let r = 0; r < count; r++) out.set(source.data.subarray(r * sourceColumns, r * sourceColumns + shared), r * columns);
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Writes the source's weights into a new run's state before its first step: G's all (they must all be
 * there), D's as described in the file comment. A moving average of G restarts from the copied G.
 */
export function initialiseFrom(state: TrainingState, source: InitSource): WeightTransfer {
  const { tensors } = source.checkpoint;
  const { generator, discriminator, config } = state.models;
  const transfer: WeightTransfer = { copied: [], sliced: [], zeroed: [], fresh: [], dropped: [] };

  const fromPlainG = hasClassBatchNorm(config) && !hasClassBatchNorm(source.settings.config);
  for (const w of generator.weights) {
    const name = `generator/${w.originalName}`;
    const saved = tensors.get(name);
    if (!saved && fromPlainG && isClassAffineWeight(w.originalName)) {
      // Its initial 1 and 0 leave the source's G as it was.
      transfer.fresh.push(name);
      continue;
    }
    if (!saved || !sameShape(saved.shape, w.shape as number[]))
      throw new InitFromError(`${path.basename(source.checkpoint.dir)} of ${source.provenance.run} has no ${name} of shape [${w.shape}]`);
    write(w, saved.data, saved.shape);
    transfer.copied.push(name);
  }

  const taken = new Set<string>();
  for (const w of discriminator.weights) {
    const name = `discriminator/${w.originalName}`;
    const shape = w.shape as number[];
    const saved = tensors.get(name);
    if (saved && sameShape(saved.shape, shape)) {
      write(w, saved.data, shape);
      transfer.copied.push(name);
      taken.add(name);
      continue;
    }
    const own = () => w.read().dataSync() as Float32Array;
    const sliced = !saved
      ? undefined
      : w.originalName.startsWith('class_logits/')
        ? classColumns(saved, own(), shape)
        : Math.abs(saved.shape[2] - shape[2]) === config.numClasses
          ? imageChannelSlices(saved, own(), shape)
          : undefined;
    if (saved && sliced) {
      write(w, sliced, shape);
      transfer.sliced.push(`${name} [${saved.shape}] → [${shape}]`);
      taken.add(name);
    } else if (w.originalName.startsWith('class_embedding/')) {
      // Zero rather than its N(0, 0.02) initialiser: the projection ⟨embed(y), φ(x)⟩ then adds nothing
      // at first, and the fine-tune's D starts as exactly the source's D minus its class planes. Random
      // values would add to every trained logit a class-dependent term summed over all 4·4·8F features
      // (4096 at width 32: a standard deviation of 0.02·√4096 ≈ 1.3 times their rms), so D's first
      // judgements, and the G steps that follow them, would be noise. The embedding still learns from
      // the first step: its gradient for class y is φ(x) of the images of that class.
      write(w, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      transfer.zeroed.push(name);
    } else transfer.fresh.push(name);
  }
  for (const name of tensors.keys()) if (name.startsWith('discriminator/') && !taken.has(name)) transfer.dropped.push(name);
  // Copied kernels with a fresh (or another kernel's) u would be normalised by a poor estimate of σ at first.
  settleSpectralNorms(discriminator);

  state.average?.restart();
  return transfer;
}

/** The log lines that say where the new run's weights came from. */
export function describeTransfer(source: InitSource, transfer: WeightTransfer): string[] {
  const { run, step, tensorsSha256 } = source.provenance;
  const short = (names: string[]) => names.map((n) => n.replace(/^(generator|discriminator)\//, '')).join(', ');
  const g = transfer.copied.filter((n) => n.startsWith('generator/'));
  const d = transfer.copied.filter((n) => n.startsWith('discriminator/'));
  const gClass = transfer.fresh.filter((n) => n.startsWith('generator/'));
  const dFresh = transfer.fresh.filter((n) => n.startsWith('discriminator/'));
  return [
    `initialising from ${run} at step ${step} (${path.basename(source.checkpoint.dir)}, tensors sha256 ${tensorsSha256.slice(0, 12)}…)`,
    `  G: copied all ${g.length} of the source's weights`,
    ...(gClass.length ? [`  G: per-class gamma 1 and beta 0 (new, class-conditional batch norm): ${short(gClass)}`] : []),
    `  D: copied ${d.length}: ${short(d)}`,
    ...(transfer.sliced.length ? [`  D: sliced to what both have (image channels, classes): ${short(transfer.sliced)}`] : []),
    ...(transfer.zeroed.length ? [`  D: zero (new): ${short(transfer.zeroed)}`] : []),
    ...(dFresh.length ? [`  D: fresh initialisation (new): ${short(dFresh)}`] : []),
    ...(transfer.dropped.length ? [`  D: not used (source only): ${short(transfer.dropped)}`] : []),
  ];
}
