/** Evaluates an exported model with the emoji style judge (judge.ts): samples, real renders, the judge. */
import path from 'node:path';
import { type FastGenerator, renderCells } from '@gan/core';
import { defaultCacheDir } from '../data/index.ts';
import { loadExportedGenerator } from '../export/load.ts';
import { EvaluationError, generateSamples, sampleCells } from './evaluate.ts';
import type { ImageNetExtractor } from './imagenet.ts';
import { type JudgeEvaluation, evaluateWithJudge } from './judge.ts';
import { type DataAccess, realSplits } from './real-data.ts';
import { STYLE_JUDGE_ID } from './style-judge.ts';
import { defaultClassifiersDir, loadClassifier } from './store.ts';

/** The judge of a data set's models: the emoji style judge for every emoji data spec. */
export function defaultJudgeDir(dataset: string): string | undefined {
  return dataset === 'emoji' || dataset.startsWith('emoji:') ? path.join(defaultClassifiersDir(), STYLE_JUDGE_ID) : undefined;
}

/** 8-bit [n, S, S, C] → [-1, 1] at `target` (S a multiple of it), each pixel the mean of its S/target square. */
export function boxDownscale(bytes: Uint8Array, count: number, size: number, channels: number, target: number): Float32Array {
  if (size % target !== 0) throw new EvaluationError(`${size} px images cannot be averaged down to ${target} px`);
  const f = size / target;
  const out = new Float32Array(count * target * target * channels);
  for (let i = 0; i < count; i++)
    for (let y = 0; y < target; y++)
      for (let x = 0; x < target; x++)
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let dy = 0; dy < f; dy++)
            for (let dx = 0; dx < f; dx++) sum += bytes[((i * size + y * f + dy) * size + x * f + dx) * channels + c];
          out[((i * target + y) * target + x) * channels + c] = sum / (f * f) / 127.5 - 1;
        }
  return out;
}

/**
 * Sample i as `gan evaluate` draws it (the latent of cellSeed(seed, i), class i mod K): the generator's
 * raw output, or with `size` (or `truncation`) the 8-bit image the worker serves at that size (the
 * model's own by default) with that `truncation`, averaged back down.
 */
export function judgedSamples(
  generator: FastGenerator,
  seed: string,
  samples: number,
  size?: number,
  truncation?: number,
): { images: Float32Array; classes: Int32Array } {
  const { config } = generator;
  if (size === undefined && truncation === undefined) return generateSamples(generator, seed, samples);
  const cells = sampleCells(config, seed, 0, samples);
  const served = renderCells(generator, cells, { size: size ?? config.imageSize, truncation });
  return {
    images: boxDownscale(served.data, samples, served.size, config.channels, config.imageSize),
    classes: Int32Array.from(cells, (c) => c.classIndex ?? 0),
  };
}

export interface JudgeExportOptions extends DataAccess {
  samples: number;
  seed: string;
  backend: string;
  /** Judge directory (default: the data set's, see defaultJudgeDir). */
  classifier?: string;
  /** Score the images as served at this edge (a multiple of the model's). */
  size?: number;
  /** Score the images as served with this `truncation` (0 < t ≤ 1). */
  truncation?: number;
  /** Measure the same samples in this ImageNet network too (JudgeEvaluation.imagenet). */
  imagenet?: ImageNetExtractor;
}

/** Evaluates an exported model directory with the style judge. */
export async function evaluateExportWithJudge(modelDir: string, options: JudgeExportOptions): Promise<JudgeEvaluation> {
  const { manifest, generator } = await loadExportedGenerator(modelDir);
  try {
    const dir = options.classifier ?? defaultJudgeDir(manifest.dataset.name);
    if (!dir) throw new EvaluationError(`no style judge for ${manifest.dataset.name}: give --classifier <dir>`);
    if (options.samples < 2) throw new EvaluationError('at least 2 samples are needed');
    const judge = await loadClassifier(dir);
    try {
      if (judge.info.imageSize !== manifest.imageSize)
        throw new EvaluationError(`the judge reads ${judge.info.imageSize} px images, the model makes ${manifest.imageSize} px`);
      const { train, heldOut } = await realSplits(
        manifest.dataset.name,
        { imageSize: manifest.imageSize, channels: 3, background: judge.info.background },
        options,
      );
      const samples = judgedSamples(generator, options.seed, options.samples, options.size, options.truncation);
      return evaluateWithJudge({
        judge,
        images: samples.images,
        count: options.samples,
        classes: manifest.classes.length > 0 ? samples.classes : undefined,
        classNames: manifest.classes,
        train,
        heldOut,
        seed: options.seed,
        backend: options.backend,
        size: options.size,
        truncation: options.truncation,
        model: { name: manifest.name, version: manifest.version },
        log: options.log,
        imagenet: options.imagenet,
        realFeatureCache: path.join(options.cacheDir ?? defaultCacheDir(), 'features'),
      });
    } finally {
      judge.model.dispose();
    }
  } finally {
    generator.dispose();
  }
}
