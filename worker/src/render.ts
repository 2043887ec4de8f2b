/**
 * A validated request → its bytes, through core's render pipeline. Pure and synchronous given a
 * loaded generator: the same model version and request always give byte-identical output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type GridCell, classOf, gridCells } from '@gan/core/prng';
import { gridPng, imagePng, morphPng, walkGif, walkKeys } from '@gan/core/render';
import type { LoadedModel } from './model-store.ts';
import type { RenderRequest } from './validation.ts';

/** The seed and class of every image of an image or grid request, row by row. */
export function cellsOf(r: RenderRequest & { kind: 'image' | 'grid' }, numClasses: number): GridCell[] {
  if (r.kind === 'image') return [{ seed: r.seed, classIndex: classOf(r.seed, 0, numClasses, r.classChoice) }];
  return gridCells(r.seed, r.rows, r.cols, numClasses, r.classChoice);
}

/** The media type of a request's response body. */
export const contentTypeOf = (r: RenderRequest): string => (r.kind === 'walk' ? 'image/gif' : 'image/png');

/** The bytes of a request. */
export function render(model: LoadedModel, r: RenderRequest): Uint8Array<ArrayBuffer> {
  const numClasses = model.manifest.classes.length;
  const options = { size: r.size, filter: r.filter, truncation: r.truncation };
  switch (r.kind) {
    case 'image':
      return imagePng(model.generator, cellsOf(r, numClasses)[0], options);
    case 'grid':
      return gridPng(model.generator, cellsOf(r, numClasses), { rows: r.rows, cols: r.cols, padding: r.padding }, options);
    case 'walk':
      return walkGif(model.generator, walkKeys(r.seed, r.keys, numClasses, r.classChoice), { ...options, frames: r.frames, fps: r.fps });
    case 'morph': {
      const from = { seed: r.seed, classIndex: classOf(r.seed, 0, numClasses, r.classChoice) };
      const to = { seed: r.to, classIndex: classOf(r.to, 0, numClasses, r.toClassChoice) };
      return morphPng(model.generator, from, to, { ...options, steps: r.steps, padding: r.padding });
    }
  }
}

/** Tensors alive in this isolate (leak checks in tests and /healthz). */
export const liveTensors = () => tf.memory().numTensors;
