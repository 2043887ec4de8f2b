/**
 * Generators from R2, loaded lazily once per isolate and kept within a memory budget. The store
 * composes five parts, each in its own file under store/:
 *
 * - current-pointers.ts: `current.json` trusted for a short TTL, its absence remembered as long, the
 *   last readable pointer kept when it becomes unreadable. A pinned `name@version` never reads it.
 * - manifest-cache.ts: a version's manifest read once (versions are immutable).
 * - generator-lru.ts: loaded generators evicted least recently used first beyond the byte budget.
 * - last-good.ts: the last good current version serves while a newly published one cannot.
 * - r2-deadline.ts: every R2 call, body included, within a deadline (r2-models.ts makes the calls
 *   and checks every file against the manifest's size and sha256 with core's model reader).
 *
 * Concurrent first requests share one load (in-flight.ts). Failed loads are not remembered: the next
 * request tries again, so repairing the files in R2 heals the isolate by itself.
 */
import type { FastGenerator, Manifest } from '@gan/core';
import { CONFIG_DEFAULTS } from './config.ts';
import { ModelUnavailableError } from './errors.ts';
import { CurrentPointers } from './store/current-pointers.ts';
import { GeneratorLru } from './store/generator-lru.ts';
import { InFlight } from './store/in-flight.ts';
import { LastGoodVersions } from './store/last-good.ts';
import { ManifestCache } from './store/manifest-cache.ts';
import { R2Models } from './store/r2-models.ts';
import { initBackend } from './tf-backend.ts';
import type { ModelRef } from './validation.ts';

export type { Fallback } from './store/last-good.ts';
export { R2TimeoutError } from './store/r2-deadline.ts';

export interface ModelStoreOptions {
  /** How long a read of current.json is trusted. */
  pointerTtlMs: number;
  /** Bytes of folded weights kept loaded at most (the most recently used model always stays). */
  byteBudget: number;
  /** Deadline of one R2 call, body included (default: config.ts). */
  r2TimeoutMs?: number;
  now?: () => number;
}

export interface ResolvedModel {
  name: string;
  version: string;
  /** The URL named the version (immutable) rather than the moving current one. */
  pinned: boolean;
  manifest: Manifest;
}

export interface LoadedModel {
  name: string;
  version: string;
  manifest: Manifest;
  generator: FastGenerator;
  bytes: number;
  loadedAt: string;
  loadMs: number;
  /** Set when evicted: its weights are gone. */
  disposed: boolean;
}

/** How often `use` loads again a generator evicted before it could run. */
const USE_ATTEMPTS = 5;

export class ModelStore {
  private readonly r2: R2Models;
  private readonly pointers: CurrentPointers;
  private readonly manifests = new ManifestCache();
  private readonly generators: GeneratorLru;
  private readonly loads = new InFlight<LoadedModel>();
  private readonly lastGood = new LastGoodVersions();

  constructor(bucket: R2Bucket, options: ModelStoreOptions) {
    this.r2 = new R2Models(bucket, options.r2TimeoutMs ?? CONFIG_DEFAULTS.r2TimeoutMs);
    this.pointers = new CurrentPointers({
      read: (name) => this.r2.pointerText(name),
      ttlMs: options.pointerTtlMs,
      now: options.now ?? Date.now,
    });
    this.generators = new GeneratorLru(options.byteBudget);
  }

  /** R2 reads made, by kind: lets tests and /healthz see that repeats do not go back to R2. */
  get reads() {
    return this.r2.reads;
  }

  /** The version a reference means now, with its manifest. 404 for unknown models and versions. */
  async resolve(ref: ModelRef): Promise<ResolvedModel> {
    if (ref.version !== undefined) {
      const manifest = await this.manifest(ref.name, ref.version, true);
      return { name: ref.name, version: ref.version, pinned: true, manifest };
    }
    const version = await this.pointers.version(ref.name);
    try {
      const manifest = await this.manifest(ref.name, version, false);
      return { name: ref.name, version, pinned: false, manifest };
    } catch (error) {
      const fallback = this.fallbackFor({ name: ref.name, version, pinned: false }, error);
      if (fallback) return fallback;
      throw error;
    }
  }

  /**
   * The version to serve instead of `model` after `error`: the last good current version of the
   * model, if this isolate has one and `model` is the moving current version that failed to load.
   */
  fallbackFor(model: Pick<ResolvedModel, 'name' | 'version' | 'pinned'>, error: unknown): ResolvedModel | undefined {
    return this.lastGood.fallbackFor(model, error);
  }

  /**
   * Runs `render` with the loaded generator of a resolved version, loading it first if needed.
   * `render` must be synchronous: nothing can evict the generator while it runs.
   */
  async use<T>(model: ResolvedModel, render: (loaded: LoadedModel) => T): Promise<T> {
    for (let attempt = 0; attempt < USE_ATTEMPTS; attempt++) {
      const loaded = await this.load(model);
      // Between the load settling and this line another request's load may have evicted it.
      if (!loaded.disposed) return render(loaded);
    }
    throw new ModelUnavailableError(`${model.name}@${model.version}`, 'too many models are in use at once for the memory budget');
  }

  /** The loaded generator of a resolved version, loading it first if needed. */
  async load(model: ResolvedModel): Promise<LoadedModel> {
    const key = `${model.name}@${model.version}`;
    const hit = this.generators.get(key);
    if (hit) {
      this.lastGood.served(model);
      return hit;
    }
    const loaded = await this.loads.run(key, () => this.loadVersion(key, model));
    this.lastGood.loaded(model);
    return loaded;
  }

  /** Names of all published models (one R2 list call per 1000 names). */
  listNames(): Promise<string[]> {
    return this.r2.names();
  }

  status() {
    const models = this.generators.models().map((m) => ({
      name: m.name,
      version: m.version,
      bytes: m.bytes,
      loadedAt: m.loadedAt,
      loadMs: m.loadMs,
    }));
    return {
      models,
      usedBytes: models.reduce((sum, m) => sum + m.bytes, 0),
      budgetBytes: this.generators.budgetBytes,
      reads: { ...this.reads },
      fallbacks: this.lastGood.list(),
    };
  }

  private manifest(name: string, version: string, pinned: boolean): Promise<Manifest> {
    return this.manifests.get(`${name}@${version}`, () => this.r2.manifest(name, version, pinned));
  }

  private async loadVersion(key: string, model: ResolvedModel): Promise<LoadedModel> {
    const started = performance.now();
    await initBackend();
    const generator = await this.r2.generator(model.name, model.version, model.manifest);
    const loaded: LoadedModel = {
      name: model.name,
      version: model.version,
      manifest: model.manifest,
      generator,
      bytes: generator.byteSize,
      loadedAt: new Date().toISOString(),
      loadMs: Math.round(performance.now() - started),
      disposed: false,
    };
    this.generators.add(key, loaded);
    return loaded;
  }
}
