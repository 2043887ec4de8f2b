/**
 * The golden requests (./golden-bytes.ts) rendered in Node: through core's render pipeline, the
 * functions `gan sample` and `gan walk` call, on an exported model loaded as they load it; and the
 * `gan sample` / `gan walk` arguments that ask for the same bytes.
 */
import path from 'node:path';
import { classOf, gridCells, gridPng, imagePng, morphPng, walkGif, walkKeys } from '@gan/core';
import { type LoadedGenerator, loadExportedGenerator } from '@gan/trainer/export/load';
import { classChoiceOf } from '@gan/trainer/commands/render-flags';
import { activateServingBackend } from '@gan/trainer/serving-backend';
import type { RenderFilter } from '@gan/core/upscaler';
import { repoRoot } from './gan.ts';
import { type GoldenCase, queryOf, routeOf } from './golden-bytes.ts';

/** The backend `gan sample`, `gan walk` and `gan export` render on: the worker's serving path. */
export const useRenderBackend = (): Promise<void> => activateServingBackend();

export const shippedModelDir = (model: string) => path.join(repoRoot, 'models', model);

/** The shipped models, loaded once per model. */
export class ShippedModels {
  private readonly loaded = new Map<string, LoadedGenerator>();

  async get(model: string): Promise<LoadedGenerator> {
    let m = this.loaded.get(model);
    if (!m) {
      m = await loadExportedGenerator(shippedModelDir(model));
      this.loaded.set(model, m);
    }
    return m;
  }

  dispose(): void {
    for (const { generator } of this.loaded.values()) generator.dispose();
    this.loaded.clear();
  }
}

const int = (q: Record<string, string>, name: string): number => {
  if (q[name] === undefined) throw new Error(`golden request without ${name}: give every parameter explicitly`);
  return Number(q[name]);
};
const optionalInt = (q: Record<string, string>, name: string) => (q[name] === undefined ? undefined : Number(q[name]));

/** The bytes of a golden request, through core's render pipeline (every parameter is explicit in the request). */
export function renderGolden({ manifest, generator }: LoadedGenerator, c: GoldenCase): Uint8Array {
  const q = queryOf(c.request);
  const n = manifest.classes.length;
  const size = optionalInt(q, 'size');
  const options = {
    size,
    filter: (q.filter ?? 'bilinear') as RenderFilter,
    truncation: q.truncation === undefined ? 1 : Number(q.truncation),
  };
  const route = routeOf(c.request);
  switch (route) {
    case 'image.png': {
      const choice = classChoiceOf(manifest, q.class);
      return imagePng(generator, { seed: q.seed, classIndex: classOf(q.seed, 0, n, choice) }, options);
    }
    case 'grid.png': {
      const choice = classChoiceOf(manifest, q.class, true);
      const rows = choice === 'each' ? n : int(q, 'rows');
      const cols = int(q, 'cols');
      return gridPng(generator, gridCells(q.seed, rows, cols, n, choice), { rows, cols, padding: int(q, 'padding') }, options);
    }
    case 'walk.gif': {
      const choice = classChoiceOf(manifest, q.class, true);
      const keys = walkKeys(q.seed, int(q, 'keys'), n, choice);
      return walkGif(generator, keys, { ...options, frames: int(q, 'frames'), fps: int(q, 'fps') });
    }
    case 'morph.png': {
      const choice = classChoiceOf(manifest, q.class);
      const toChoice = q.to_class === undefined ? choice : classChoiceOf(manifest, q.to_class);
      const from = { seed: q.from, classIndex: classOf(q.from, 0, n, choice) };
      const to = { seed: q.to, classIndex: classOf(q.to, 0, n, toChoice) };
      return morphPng(generator, from, to, { ...options, steps: int(q, 'steps'), padding: int(q, 'padding') });
    }
    default:
      throw new Error(`golden request of an unknown route: ${c.request}`);
  }
}

/** `gan sample` / `gan walk` arguments (without --out) for an image or walk case; undefined for the others. */
export function ganArgsOf(c: GoldenCase): string[] | undefined {
  const route = routeOf(c.request);
  const command = route === 'image.png' ? 'sample' : route === 'walk.gif' ? 'walk' : undefined;
  if (!command) return undefined;
  const flags = Object.entries(queryOf(c.request)).flatMap(([name, value]) => [`--${name}`, value]);
  return [command, '--model', shippedModelDir(c.model), ...flags];
}
