/**
 * The models embedded in the bundle (models/ at build time: worker/scripts/embed-models.ts), built at
 * global scope into ready generators: a fresh isolate's first image reads nothing from R2 and builds
 * nothing.
 *
 * workerd allows only CPU work at global scope (no R2, fetch, timers or random values), within 1 s
 * of CPU. Everything here is CPU: the shards are data modules, the sha256 checks and the backend's
 * start resolve without I/O, so the promise below settles while the isolate starts, before its first
 * request. One warm-up render per model then sets up what a first request would (kernels, the
 * GEMM's scratch memory, the PNG encoder, the JIT). If building fails at startup it is logged and the
 * first request that needs it tries again; the build check makes that a corrupt-bundle case only.
 */
import { type Manifest, parseManifest } from '@gan/core/manifest';
import { loadGenerator } from '@gan/core/load-generator';
import { imagePng } from '@gan/core/render';
import { EMBEDDED_MODEL_FILES, type EmbeddedModelFiles } from './embedded-models.gen.js';
import type { LoadedModel } from './model-store.ts';
import { initBackend } from './tf-backend.ts';

/** A model built from the bundle: loaded for good (never evicted, outside the memory budget). */
export interface EmbeddedModel extends LoadedModel {
  manifest: Manifest;
}

/** Embedded models by name. */
export type EmbeddedModels = ReadonlyMap<string, EmbeddedModel>;

/** Checks one embedded model's files against its manifest and builds its generator, warmed up. */
async function build(files: EmbeddedModelFiles): Promise<EmbeddedModel> {
  const started = performance.now();
  const label = `embedded model ${files.dir}`;
  const manifest = parseManifest(files.manifest, label, undefined);
  const encoder = new TextEncoder();
  const contents = new Map(files.files.map(([path, data]) => [path, typeof data === 'string' ? encoder.encode(data) : data]));
  // The build checked these bytes; core's loader checks them again (sha256, a few ms per MB), which
  // catches a bundle put together some other way.
  const generator = await loadGenerator(`${manifest.name}@${manifest.version}`, manifest, async (path) => contents.get(path));
  imagePng(generator, { seed: 'warm-up', classIndex: manifest.classes.length > 0 ? 0 : undefined });
  return {
    name: manifest.name,
    version: manifest.version,
    manifest,
    generator,
    bytes: generator.byteSize,
    loadedAt: new Date().toISOString(),
    loadMs: Math.round(performance.now() - started),
    disposed: false,
  };
}

/** What building the embedded models took in this isolate (for /healthz and the benchmarks). */
export interface EmbeddedStartup {
  /** Milliseconds by the isolate's clock (locally it runs during CPU work; in production it reads 0). */
  ms: number;
  models: string[];
}

/** Builds every embedded model (an empty map when the bundle holds none). */
export async function buildEmbeddedModels(
  files: readonly EmbeddedModelFiles[] = EMBEDDED_MODEL_FILES,
): Promise<{ models: EmbeddedModels; startup: EmbeddedStartup }> {
  const started = performance.now();
  const models = new Map<string, EmbeddedModel>();
  if (files.length > 0) await initBackend();
  for (const f of files) {
    const model = await build(f);
    models.set(model.name, model);
  }
  return {
    models,
    startup: { ms: Math.round((performance.now() - started) * 10) / 10, models: [...models.values()].map((m) => `${m.name}@${m.version}`) },
  };
}

/**
 * The embedded models of this isolate, building them on first call: index.ts calls it at global
 * scope. A failed build is logged and forgotten, so the next call tries again.
 */
export function embeddedModels(): Promise<{ models: EmbeddedModels; startup: EmbeddedStartup }> {
  pending ??= buildEmbeddedModels().then(
    (built) => {
      startup = { ...built.startup, atGlobalScope: !requestSeen };
      return built;
    },
    (error: unknown) => {
      pending = undefined;
      console.error('building the embedded models failed', error instanceof Error ? `${error.name}: ${error.message}` : error);
      throw error;
    },
  );
  return pending;
}
let pending: Promise<{ models: EmbeddedModels; startup: EmbeddedStartup }> | undefined;
let startup: (EmbeddedStartup & { atGlobalScope: boolean }) | undefined;
/** Set by the first request: a build that finishes after it did not finish while the isolate started. */
let requestSeen = false;

/** Marks that the isolate is serving requests (app.ts, on every request). */
export function requestStarted(): void {
  requestSeen = true;
}

/** How the embedded models were built in this isolate, once they are (for /healthz). */
export function embeddedStartup(): (EmbeddedStartup & { atGlobalScope: boolean }) | undefined {
  return startup;
}
