/**
 * The one render pipeline: cells (seed, class) → generator inputs → generator passes bounded by
 * output pixels → 8-bit pixels → PNG (one image, a grid, a morph strip) or an animated GIF (a walk).
 * The worker, `gan sample`, `gan walk`, the trainer's previews, the export's sample grid and the
 * evaluation all render through here, so one request gives the same bytes wherever it is rendered.
 * Only this module (through image.ts and gif.ts) encodes images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { samplerOf } from './cell-sampler.ts';
import type { ModelConfig } from './config.ts';
import { encodeAnimatedGif } from './gif.ts';
import { type GridLayout, type PixelBatch, composeGrid, encodePng } from './image.ts';
import type { FastGenerator } from './inference.ts';
import { type ClassChoice, type GridCell, gridCells, latentFromSeed } from './prng.ts';
import { type RenderFilter, filteredPixels, passEdge, resolveFilter } from './upscaler.ts';

// ---------------------------------------------------------------------------------------------------
// Classes.

/** A class asked for by name or index that the model does not have (or a class on an unconditional model). */
export class ClassNameError extends Error {
  override name = 'ClassNameError';
}

/**
 * A class given as text → its index: up to four digits are an index, anything else a class name.
 * The one rule for the worker's `class`/`to_class` and the command line's `--class`.
 */
export function resolveClassName(modelName: string, classes: readonly string[], given: string): number {
  if (classes.length === 0) throw new ClassNameError(`model '${modelName}' is unconditional: it takes no class`);
  if (/^\d{1,4}$/.test(given)) {
    const index = Number(given);
    if (index < classes.length) return index;
    throw new ClassNameError(`class index must be from 0 to ${classes.length - 1}`);
  }
  const index = classes.indexOf(given);
  if (index >= 0) return index;
  const names = classes.slice(0, 20).join(', ') + (classes.length > 20 ? ', …' : '');
  throw new ClassNameError(`class must be an index from 0 to ${classes.length - 1} or one of: ${names}`);
}

// ---------------------------------------------------------------------------------------------------
// Generator inputs.

/**
 * One point of the generator's input space: a latent and, on conditional models, the class input
 * (one-hot for a cell; a blend of two classes between the keys of a walk).
 */
export interface InputPoint {
  latent: Float32Array;
  classWeights?: Float32Array;
}

export function oneHot(numClasses: number, index: number): Float32Array {
  const weights = new Float32Array(numClasses);
  weights[index] = 1;
  return weights;
}

/** A cell's input: the latent of its seed (times the truncation) and its one-hot class. */
export function pointOfCell(config: ModelConfig, cell: GridCell, truncation = 1): InputPoint {
  const latent = latentFromSeed(cell.seed, config.latentSize, truncation);
  return config.numClasses > 0 ? { latent, classWeights: oneHot(config.numClasses, cell.classIndex ?? 0) } : { latent };
}

/**
 * Every cell's input: its seed's latent, or, on a version with candidate sampling (sampler.ts), the
 * candidate its scorer picks. Images, grids, walk keys and morph ends all come from here.
 */
export function pointsOfCells(generator: FastGenerator, cells: readonly GridCell[], truncation = 1): InputPoint[] {
  const sampler = samplerOf(generator);
  if (sampler) return sampler.points(generator, cells, truncation);
  return cells.map((c) => pointOfCell(generator.config, c, truncation));
}

function inputTensor(config: ModelConfig, points: readonly InputPoint[]): tf.Tensor2D {
  const width = config.latentSize + config.numClasses;
  const data = new Float32Array(points.length * width);
  points.forEach((p, i) => {
    data.set(p.latent, i * width);
    if (config.numClasses > 0 && p.classWeights) data.set(p.classWeights, i * width + config.latentSize);
  });
  return tf.tensor2d(data, [points.length, width]);
}

// ---------------------------------------------------------------------------------------------------
// Generator passes.

/** Images per forward pass: bounds the activations in WASM memory whatever the request. */
export const IMAGES_PER_PASS = 16;
/**
 * Output pixels per pass, at most (one 512x512 image): resizing and converting a pass holds a few
 * float32 copies of its output in WASM memory, which never shrinks again. Without this bound, a
 * 2x2 grid of 512-pixel cells grew the heap past 100 MB, near the worker isolate's 128 MB.
 */
export const PASS_PIXELS = 512 * 512;

/**
 * Runs the generator over `points` in passes of at most `maxImages` images and PASS_PIXELS output
 * pixels (images of `outputSize`); `use` gets each pass's [n, S, S, C] output in [-1, 1] and the
 * index of its first image. The output is disposed after `use`.
 */
export function forEachPass(
  generator: FastGenerator,
  points: readonly InputPoint[],
  outputSize: number,
  use: (images: tf.Tensor4D, start: number) => void,
  maxImages = IMAGES_PER_PASS,
): void {
  const perPass = Math.max(1, Math.min(maxImages, Math.floor(PASS_PIXELS / (outputSize * outputSize))));
  for (let start = 0; start < points.length; start += perPass) {
    const input = inputTensor(generator.config, points.slice(start, start + perPass));
    const images = generator.forward(input);
    input.dispose();
    try {
      use(images, start);
    } finally {
      images.dispose();
    }
  }
}

export interface RenderOptions {
  /** Output edge in pixels (default: the model's own). */
  size?: number;
  /** `learned`: the version's upscaler (upscaler.ts). Default: `learned` where it is the version's default, else `bilinear`. */
  filter?: RenderFilter;
  /** Latent scale in (0, 1] for cells (default 1). */
  truncation?: number;
}

/** 8-bit pixels of every point, in order. */
export function renderPoints(generator: FastGenerator, points: readonly InputPoint[], options: RenderOptions = {}): PixelBatch {
  const { config } = generator;
  const size = options.size ?? config.imageSize;
  const data = new Uint8Array(points.length * size * size * config.channels);
  const filter = resolveFilter(generator, options.filter);
  forEachPass(generator, points, passEdge(config.imageSize, size, filter), (images, start) => {
    const pixels = filteredPixels(generator, images, size, filter);
    data.set(pixels.data, start * size * size * config.channels);
  });
  return { count: points.length, size, channels: config.channels as 1 | 3, data };
}

/** 8-bit pixels of every cell, in order. */
export function renderCells(generator: FastGenerator, cells: readonly GridCell[], options: RenderOptions = {}): PixelBatch {
  return renderPoints(generator, pointsOfCells(generator, cells, options.truncation), options);
}

/** PNG of one image. */
export function imagePng(generator: FastGenerator, cell: GridCell, options: RenderOptions = {}): Uint8Array<ArrayBuffer> {
  const pixels = renderCells(generator, [cell], options);
  return encodePng(pixels.size, pixels.size, pixels.channels, pixels.data) as Uint8Array<ArrayBuffer>;
}

function gridOf(pixels: PixelBatch, layout: GridLayout): Uint8Array<ArrayBuffer> {
  const grid = composeGrid(pixels, layout);
  return encodePng(grid.width, grid.height, pixels.channels, grid.data) as Uint8Array<ArrayBuffer>;
}

/** PNG of cells laid out row by row (grid.png, the trainer's previews, the export's sample). */
export function gridPng(
  generator: FastGenerator,
  cells: readonly GridCell[],
  layout: GridLayout,
  options: RenderOptions = {},
): Uint8Array<ArrayBuffer> {
  return gridOf(renderCells(generator, cells, options), layout);
}

// ---------------------------------------------------------------------------------------------------
// Latent walks.

/**
 * Spherical interpolation between two latents, t in [0, 1]. The latents are standard Gaussian
 * vectors, which in L dimensions lie near the sphere of radius √L; the straight line between two of
 * them passes through points of much smaller norm (about √(L/2) halfway), where the generator saw
 * no training latents and draws faded, washed-out images. Slerp keeps the path on that shell. Nearly
 * parallel latents (the same key twice) fall back to the straight line, where both agree.
 * t = 0 and t = 1 give the endpoints exactly.
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  const sinOmega = Math.sin(omega);
  const [wa, wb] = sinOmega < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / sinOmega, Math.sin(t * omega) / sinOmega];
  return Float32Array.from(a, (v, i) => wa * v + wb * b[i]);
}

/** The point a fraction t of the way from a to b: slerp for the latent, a straight line for the class input. */
export function interpolate(a: InputPoint, b: InputPoint, t: number): InputPoint {
  const latent = slerp(a.latent, b.latent, t);
  if (!a.classWeights || !b.classWeights) return { latent };
  const wb = b.classWeights;
  return { latent, classWeights: Float32Array.from(a.classWeights, (v, i) => (1 - t) * v + t * wb[i]) };
}

/**
 * A closed walk through the keys: `frames` points per key-to-key transition, the first of each being
 * its key exactly, and the last transition leading back to the first key, so a loop has no jump.
 */
export function walkPoints(keys: readonly InputPoint[], frames: number): InputPoint[] {
  const points: InputPoint[] = [];
  keys.forEach((key, k) => {
    const next = keys[(k + 1) % keys.length];
    for (let f = 0; f < frames; f++) points.push(f === 0 ? key : interpolate(key, next, f / frames));
  });
  return points;
}

/** A walk's defaults: key images, frames per key-to-key transition, frames per second. */
export const WALK_DEFAULTS = { keys: 4, frames: 12, fps: 12 } as const;

/**
 * The keys of a walk: key k is cell k of `grid.png?seed=…&class=…&cols=1` — for a fixed or seeded
 * class, cell k of any grid with that seed (seed `<seed>#k`); with 'each', class k in the style of
 * the grid's first column (one latent; the class changes from key to key).
 */
export function walkKeys(seed: string, keys: number, numClasses: number, choice: ClassChoice): GridCell[] {
  return gridCells(seed, keys, 1, numClasses, choice);
}

export interface WalkOptions extends RenderOptions {
  /** Frames per key-to-key transition. */
  frames: number;
  /** Frames per second (GIF delays are whole hundredths of a second). */
  fps: number;
}

/** Animated GIF looping forever through the keys (cells) along walkPoints. */
export function walkGif(generator: FastGenerator, keys: readonly GridCell[], options: WalkOptions): Uint8Array<ArrayBuffer> {
  const points = walkPoints(pointsOfCells(generator, keys, options.truncation), options.frames);
  return encodeAnimatedGif(renderPoints(generator, points, options), { fps: options.fps }) as Uint8Array<ArrayBuffer>;
}

export interface MorphOptions extends RenderOptions {
  /** Images in the strip, both ends included. */
  steps: number;
  padding: number;
}

/** One row of `steps` images from `from` to `to` (both included), by the walk's interpolation. */
export function morphPng(generator: FastGenerator, from: GridCell, to: GridCell, options: MorphOptions): Uint8Array<ArrayBuffer> {
  const [a, b] = pointsOfCells(generator, [from, to], options.truncation);
  const last = options.steps - 1;
  const points = Array.from({ length: options.steps }, (_, i) => (i === 0 ? a : i === last ? b : interpolate(a, b, i / last)));
  return gridOf(renderPoints(generator, points, options), { rows: 1, cols: options.steps, padding: options.padding });
}
