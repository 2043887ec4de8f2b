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
 *
 * Models embedded in the bundle (embedded-models.ts) are built at startup and never evicted. R2 stays
 * the source of truth: current.json says which version a name means.
 * - It names the embedded version (or there is no current.json yet, or no bucket at all): the
 *   embedded model serves and no model file or manifest is read from R2.
 * - It names another version not loaded yet: the embedded version answers, labelled as itself (its
 *   X-Model-Version, ETag and cache key; a short max-age), while that version loads in the background
 *   (`standIn.loading`); once loaded it serves. A publish is thus served within the pointer TTL plus
 *   one load, per isolate.
 * - It cannot be read and this isolate never read it: the embedded version answers, as itself.
 * A pinned `name@version` is served by exactly that version, from the bundle when it is the embedded one.
 */
import type { FastGenerator } from '@gan/core/inference';
import type { Manifest } from '@gan/core/manifest';
import type { WorkerConfig } from './config.ts';
import type { EmbeddedModels } from './embedded-models.ts';
import { ModelNotFoundError, ModelUnavailableError, VersionNotFoundError } from './errors.ts';
import { CurrentPointers } from './store/current-pointers.ts';
import { GeneratorLru } from './store/generator-lru.ts';
import { InFlight } from './store/in-flight.ts';
import { LastGoodVersions } from './store/last-good.ts';
import { ManifestCache } from './store/manifest-cache.ts';
import { R2Models, type R2Reads } from './store/r2-models.ts';
import { initBackend } from './tf-backend.ts';
import type { ModelRef } from './validation.ts';

export type { Fallback } from './store/last-good.ts';
export { R2TimeoutError } from './store/r2-deadline.ts';

export interface ModelStoreOptions {
  /** The clock of the pointer TTL (tests move it). */
  now?: () => number;
  /** The models built from the bundle, by name (embedded-models.ts; default none). */
  embedded?: () => Promise<EmbeddedModels>;
}

export interface ResolvedModel {
  name: string;
  version: string;
  /** The URL named the version (immutable) rather than the moving current one. */
  pinned: boolean;
  manifest: Manifest;
  /** Built from the bundle: serving it reads nothing from R2. */
  embedded?: boolean;
  /**
   * Set when this (embedded) version answers for the current one, which is loading: the response is
   * labelled as this version, cached briefly, and `loading` (never rejecting) should be waited on.
   */
  standIn?: { wanted: string; loading: Promise<void> };
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
const NO_EMBEDDED: EmbeddedModels = new Map();

export class ModelStore {
  private readonly r2: R2Models | undefined;
  private readonly pointers: CurrentPointers | undefined;
  private readonly manifests = new ManifestCache();
  private readonly generators: GeneratorLru;
  private readonly loads = new InFlight<LoadedModel>();
  private readonly lastGood = new LastGoodVersions();
  private readonly embedded: () => Promise<EmbeddedModels>;

  /** `bucket` undefined: no registry, the embedded models only. */
  constructor(bucket: R2Bucket | undefined, config: WorkerConfig, options: ModelStoreOptions = {}) {
    this.embedded = options.embedded ?? (async () => NO_EMBEDDED);
    if (bucket) {
      const r2 = new R2Models(bucket, config.r2TimeoutMs);
      this.r2 = r2;
      this.pointers = new CurrentPointers({
        read: (name) => r2.pointerText(name),
        ttlMs: config.pointerTtlMs,
        now: options.now ?? Date.now,
      });
    }
    this.generators = new GeneratorLru(config.byteBudget);
  }

  /** R2 reads made, by kind: lets tests and /healthz see that repeats do not go back to R2. */
  get reads(): R2Reads {
    return this.r2?.reads ?? { pointer: 0, manifest: 0, files: 0 };
  }

  /**
   * The version a reference means now, with its manifest. 404 for unknown models and versions.
   * `standIn: false` (metadata routes): the current version's manifest even when it is not loaded,
   * and no load started.
   */
  async resolve(ref: ModelRef, options: { standIn?: boolean } = {}): Promise<ResolvedModel> {
    const own = (await this.embeddedModels()).get(ref.name);
    if (ref.version !== undefined) {
      if (own?.version === ref.version) return embeddedRef(own, true);
      if (!this.r2) throw own ? new VersionNotFoundError(ref.name, ref.version) : new ModelNotFoundError(ref.name);
      const manifest = await this.manifest(ref.name, ref.version, true);
      return { name: ref.name, version: ref.version, pinned: true, manifest };
    }
    if (!this.pointers) {
      if (own) return embeddedRef(own, false);
      throw new ModelNotFoundError(ref.name);
    }
    // No current.json yet (nothing published under this name): the deployment's own version is current.
    if (own && this.pointers.knownAbsent(ref.name)) return embeddedRef(own, false);
    let version: string;
    try {
      version = await this.pointers.version(ref.name);
    } catch (error) {
      // No current.json yet (nothing published under this name): the deployment's own version is current.
      if (own && error instanceof ModelNotFoundError) return embeddedRef(own, false);
      // current.json unreadable, never read by this isolate: the embedded version, as itself.
      if (own && error instanceof ModelUnavailableError)
        return this.lastGood.fallbackTo(ref.name, 'current.json', error, embeddedRef(own, false));
      throw error;
    }
    if (own?.version === version) return embeddedRef(own, false);
    try {
      const manifest = await this.manifest(ref.name, version, false);
      const model: ResolvedModel = { name: ref.name, version, pinned: false, manifest };
      if (!own || options.standIn === false || this.generators.has(`${ref.name}@${version}`)) return model;
      return { ...embeddedRef(own, false), standIn: { wanted: version, loading: this.prefetch(model) } };
    } catch (error) {
      const fallback = this.fallbackFor({ name: ref.name, version, pinned: false }, error);
      if (fallback) return fallback;
      throw error;
    }
  }

  /**
   * The version to serve instead of `model` after `error`: the last good current version of the
   * model if this isolate has one, else its embedded version, if `model` is the moving current
   * version that failed to load.
   */
  fallbackFor(model: Pick<ResolvedModel, 'name' | 'version' | 'pinned'>, error: unknown): ResolvedModel | undefined {
    const own = this.embeddedNow.get(model.name);
    return this.lastGood.fallbackFor(model, error, own && embeddedRef(own, false));
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
    if (model.embedded) {
      const own = (await this.embeddedModels()).get(model.name);
      if (own?.version === model.version) return own;
    }
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

  /** Names of all models: published ones (one R2 list call per 1000 names) and embedded ones. */
  async listNames(): Promise<string[]> {
    const names = new Set((await this.embeddedModels()).keys());
    if (this.r2) for (const name of await this.r2.names()) names.add(name);
    return [...names].sort();
  }

  status() {
    const models = [...this.embeddedNow.values(), ...this.generators.models()].map((m) => ({
      name: m.name,
      version: m.version,
      bytes: m.bytes,
      loadedAt: m.loadedAt,
      loadMs: m.loadMs,
      embedded: this.embeddedNow.get(m.name) === m,
    }));
    return {
      models,
      usedBytes: this.generators.usedBytes(),
      budgetBytes: this.generators.budgetBytes,
      registry: this.r2 !== undefined,
      reads: { ...this.reads },
      fallbacks: this.lastGood.list(),
    };
  }

  /** The embedded models once built (status and fallbacks need them synchronously). */
  private embeddedNow: EmbeddedModels = NO_EMBEDDED;

  private async embeddedModels(): Promise<EmbeddedModels> {
    this.embeddedNow = await this.embedded();
    return this.embeddedNow;
  }

  /** Loads a version in the background; never rejects (a failure is logged, and retried by the next request). */
  private prefetch(model: ResolvedModel): Promise<void> {
    return this.load(model).then(
      () => undefined,
      () => undefined,
    );
  }

  private manifest(name: string, version: string, pinned: boolean): Promise<Manifest> {
    return this.manifests.get(`${name}@${version}`, () => this.r2!.manifest(name, version, pinned));
  }

  private async loadVersion(key: string, model: ResolvedModel): Promise<LoadedModel> {
    if (!this.r2) throw new ModelUnavailableError(key, 'no model registry is bound (MODELS_BUCKET)');
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

function embeddedRef(model: LoadedModel, pinned: boolean): ResolvedModel {
  return { name: model.name, version: model.version, pinned, manifest: model.manifest, embedded: true };
}
