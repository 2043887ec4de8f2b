/**
 * Seeds → PNG bytes. Pure and synchronous given a loaded generator: the same model version and
 * request always give byte-identical output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type GridCell, type PixelBatch, classOf, composeGrid, gridCells, encodePng, generatorInput, latentFromSeed, toPixels } from '@gan/core';
import type { LoadedModel } from './model-store.ts';
import type { RenderRequest } from './validation.ts';

/** Images per forward pass: bounds the activations in WASM memory whatever the grid size. */
const BATCH = 16;
/**
 * Output pixels per pass, at most (one 512x512 image): resizing and converting a pass holds a few
 * float32 copies of its output in WASM memory, which never shrinks again. Without this bound, a
 * 2x2 grid of 512-pixel cells grew the heap past 100 MB, near the isolate's 128 MB.
 */
const PASS_PIXELS = 512 * 512;

/** The seed and class of every image, row by row. */
export function cellsOf(r: RenderRequest, numClasses: number): GridCell[] {
  if (r.kind === 'image') return [{ seed: r.seed, classIndex: classOf(r.seed, 0, numClasses, r.classChoice) }];
  return gridCells(r.seed, r.rows, r.cols, numClasses, r.classChoice);
}

function generate(model: LoadedModel, cells: GridCell[], r: RenderRequest): PixelBatch {
  const { architecture } = model.manifest;
  const parts: PixelBatch[] = [];
  const perPass = Math.max(1, Math.min(BATCH, Math.floor(PASS_PIXELS / (r.size * r.size))));
  for (let start = 0; start < cells.length; start += perPass) {
    const chunk = cells.slice(start, start + perPass);
    const latents = chunk.map((c) => latentFromSeed(c.seed, architecture.latentSize, r.truncation));
    const input = generatorInput(architecture, latents, chunk.map((c) => c.classIndex ?? 0));
    const images = model.generator.forward(input);
    input.dispose();
    try {
      parts.push(toPixels(images, r.size, r.filter));
    } finally {
      images.dispose();
    }
  }
  if (parts.length === 1) return parts[0];
  const data = new Uint8Array(parts.reduce((sum, p) => sum + p.data.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.byteLength;
  }
  return { count: cells.length, size: parts[0].size, channels: parts[0].channels, data };
}

/** The PNG for a request. */
export function renderPng(model: LoadedModel, r: RenderRequest): Uint8Array<ArrayBuffer> {
  const cells = cellsOf(r, model.manifest.classes.length);
  const pixels = generate(model, cells, r);
  if (r.kind === 'image') return encodePng(pixels.size, pixels.size, pixels.channels, pixels.data) as Uint8Array<ArrayBuffer>;
  const grid = composeGrid(pixels, { rows: r.rows, cols: r.cols, padding: r.padding });
  return encodePng(grid.width, grid.height, pixels.channels, grid.data) as Uint8Array<ArrayBuffer>;
}

/** Tensors alive in this isolate (leak checks in tests and /healthz). */
export const liveTensors = () => tf.memory().numTensors;
