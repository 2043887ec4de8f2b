/**
 * Generators from R2, loaded lazily once per isolate and kept within a memory budget.
 *
 * - `models/<name>/current.json` is trusted for a short TTL, so a new publish is picked up without a
 *   deploy; a pinned `name@version` never reads it. Its absence is remembered for the same TTL, so a
 *   mistyped model name embedded in a busy page does not cost an R2 read per visitor. If it becomes unreadable, the last good pointer
 *   keeps serving until it is readable again.
 * - A version's manifest is read once (versions are immutable). Every file it lists is checked against
 *   its size and sha256 before the weights are decoded.
 * - Concurrent first requests share one load. Failed loads are not remembered: the next request tries
 *   again, so repairing the files in R2 heals the isolate by itself.
 * - If the version current.json names cannot be served (manifest or files missing, corrupt, or R2
 *   too slow) and this isolate has served an earlier current version of the model, that last good
 *   version keeps serving (under its own version name and ETag) until the new one loads.
 * - Every R2 call (with reading its body) has a deadline: a stalled R2 gives a 503, not a hung request,
 *   and never leaves a stuck promise behind for later requests to wait on.
 * - Loaded generators are evicted least recently used first when their folded weights exceed the
 *   budget. Rendering is synchronous once a generator is in hand, so eviction never disposes weights
 *   in the middle of a forward pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  FastGenerator,
  type Manifest,
  ManifestSchema,
  ModelNameSchema,
  decodeWeights,
  parseModelJson,
  sha256Hex,
  shardPaths,
} from '@gan/core';
import { CurrentPointerSchema, registryKeys } from '@gan/registry/layout';
import { ModelNotFoundError, ModelUnavailableError, StorageUnavailableError, VersionNotFoundError } from './errors.ts';
import { initBackend } from './tf-backend.ts';
import type { ModelRef } from './validation.ts';

export interface ModelStoreOptions {
  /** How long a read of current.json is trusted. */
  pointerTtlMs: number;
  /** Bytes of folded weights kept loaded at most (the most recently used model always stays). */
  byteBudget: number;
  /** Deadline of one R2 call, body included (default 10 s). */
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

interface PointerEntry {
  version: string;
  expires: number;
}

const MAX_MANIFESTS = 64;
/** Unknown model names remembered at most (each for the pointer TTL). */
const MAX_ABSENT = 1024;
const DEFAULT_R2_TIMEOUT_MS = 10_000;

/** R2 did not answer within the deadline. */
export class R2TimeoutError extends Error {
  override name = 'R2TimeoutError';
}

export interface Fallback {
  model: string;
  /** The version current.json names, which could not be served. */
  wanted: string;
  /** The last good version served instead. */
  serving: string;
  reason: string;
  count: number;
}

export class ModelStore {
  private readonly pointers = new Map<string, PointerEntry>();
  private readonly pointerReads = new Map<string, Promise<string>>();
  /** Names without current.json, until when that is trusted. */
  private readonly absent = new Map<string, number>();
  private readonly manifests = new Map<string, Promise<Manifest>>();
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly loaded = new Map<string, LoadedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();
  /** Per model: the last version current.json named that loaded, to fall back on. */
  private readonly lastGood = new Map<string, ResolvedModel>();
  private readonly fallbacks = new Map<string, Fallback>();
  private readonly now: () => number;
  private readonly r2TimeoutMs: number;
  /** R2 reads made, by kind: lets tests and /healthz see that repeats do not go back to R2. */
  readonly reads = { pointer: 0, manifest: 0, files: 0 };

  constructor(
    private readonly bucket: R2Bucket,
    private readonly options: ModelStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.r2TimeoutMs = options.r2TimeoutMs ?? DEFAULT_R2_TIMEOUT_MS;
  }

  /** The version a reference means now, with its manifest. 404 for unknown models and versions. */
  async resolve(ref: ModelRef): Promise<ResolvedModel> {
    if (ref.version !== undefined) {
      const manifest = await this.manifest(ref.name, ref.version, true);
      return { name: ref.name, version: ref.version, pinned: true, manifest };
    }
    const version = await this.currentVersion(ref.name);
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
    if (model.pinned || !(error instanceof ModelUnavailableError)) return undefined;
    const good = this.lastGood.get(model.name);
    if (!good || good.version === model.version) return undefined;
    const key = `${model.name}@${model.version}`;
    const entry = this.fallbacks.get(key) ?? { model: model.name, wanted: model.version, serving: good.version, reason: error.reason, count: 0 };
    if (entry.count === 0) console.error(`${key} cannot be served (${error.reason}); serving ${good.version}, the last good version`);
    this.fallbacks.set(key, { ...entry, serving: good.version, reason: error.reason, count: entry.count + 1 });
    return good;
  }

  /**
   * Runs `render` with the loaded generator of a resolved version, loading it first if needed.
   * `render` must be synchronous: nothing can evict the generator while it runs.
   */
  async use<T>(model: ResolvedModel, render: (loaded: LoadedModel) => T): Promise<T> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const loaded = await this.load(model);
      // Between the load settling and this line another request's load may have evicted it.
      if (!loaded.disposed) return render(loaded);
    }
    throw new ModelUnavailableError(`${model.name}@${model.version}`, 'too many models are in use at once for the memory budget');
  }

  /** The loaded generator of a resolved version, loading it first if needed. */
  async load(model: ResolvedModel): Promise<LoadedModel> {
    const key = `${model.name}@${model.version}`;
    const hit = this.loaded.get(key);
    if (hit) {
      this.loaded.delete(key); // refresh recency
      this.loaded.set(key, hit);
      if (!model.pinned) this.lastGood.set(model.name, model);
      return hit;
    }
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.loadVersion(model).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    const loaded = await pending;
    if (!model.pinned) {
      this.lastGood.set(model.name, model);
      // The current version serves: whatever this model fell back from is over.
      for (const [k, f] of this.fallbacks) if (f.model === model.name) this.fallbacks.delete(k);
    }
    return loaded;
  }

  /** Names of all published models (one R2 list call per 1000 names). */
  async listNames(): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.r2(() => this.bucket.list({ prefix: registryKeys.prefix, delimiter: '/', cursor })).catch((error: unknown) => {
        console.error('listing models failed', error instanceof Error ? error.message : error);
        throw new StorageUnavailableError();
      });
      for (const prefix of page.delimitedPrefixes) {
        const name = prefix.slice(registryKeys.prefix.length, -1);
        if (ModelNameSchema.safeParse(name).success) names.push(name);
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return names.sort();
  }

  status() {
    const models = [...this.loaded.values()].map((m) => ({
      name: m.name,
      version: m.version,
      bytes: m.bytes,
      loadedAt: m.loadedAt,
      loadMs: m.loadMs,
    }));
    return {
      models,
      usedBytes: models.reduce((sum, m) => sum + m.bytes, 0),
      budgetBytes: this.options.byteBudget,
      reads: { ...this.reads },
      fallbacks: [...this.fallbacks.values()].map((f) => ({ ...f })),
    };
  }

  // -------------------------------------------------------------------------------------------------

  private async currentVersion(name: string): Promise<string> {
    const cached = this.pointers.get(name);
    if (cached && cached.expires > this.now()) return cached.version;
    if ((this.absent.get(name) ?? 0) > this.now()) throw new ModelNotFoundError(name);
    let pending = this.pointerReads.get(name);
    if (!pending) {
      pending = this.readPointer(name, cached).finally(() => this.pointerReads.delete(name));
      this.pointerReads.set(name, pending);
    }
    return pending;
  }

  private async readPointer(name: string, stale: PointerEntry | undefined): Promise<string> {
    try {
      this.reads.pointer++;
      const text = await this.r2(async () => (await this.bucket.get(registryKeys.current(name)))?.text());
      if (text === undefined) {
        this.pointers.delete(name);
        this.absent.delete(name); // re-inserted last: the map's first entry is the oldest
        this.absent.set(name, this.now() + this.options.pointerTtlMs);
        if (this.absent.size > MAX_ABSENT) this.absent.delete(this.absent.keys().next().value!);
        throw new ModelNotFoundError(name);
      }
      this.absent.delete(name);
      const pointer = CurrentPointerSchema.safeParse(parseJson(text));
      if (!pointer.success) throw new ModelUnavailableError(name, 'current.json is not a valid version pointer');
      this.pointers.set(name, { version: pointer.data.version, expires: this.now() + this.options.pointerTtlMs });
      return pointer.data.version;
    } catch (error) {
      if (error instanceof ModelNotFoundError || !stale) throw asUnavailable(name, error);
      // The pointer was readable before: keep serving that version and look again after the TTL.
      this.pointers.set(name, { version: stale.version, expires: this.now() + this.options.pointerTtlMs });
      return stale.version;
    }
  }

  private manifest(name: string, version: string, pinned: boolean): Promise<Manifest> {
    const key = `${name}@${version}`;
    const cached = this.manifests.get(key);
    if (cached) return cached;
    const pending = this.readManifest(name, version, pinned);
    this.manifests.set(key, pending);
    pending.catch(() => this.manifests.delete(key));
    if (this.manifests.size > MAX_MANIFESTS) this.manifests.delete(this.manifests.keys().next().value!);
    return pending;
  }

  private async readManifest(name: string, version: string, pinned: boolean): Promise<Manifest> {
    const label = `${name}@${version}`;
    try {
      this.reads.manifest++;
      const text = await this.r2(async () => (await this.bucket.get(registryKeys.manifest(name, version)))?.text());
      if (text === undefined) {
        if (pinned) {
          // Distinguish "no such version" (404) from "a version whose manifest is gone" (503).
          const listing = await this.r2(() => this.bucket.list({ prefix: registryKeys.versionDir(name, version), limit: 1 }));
          if (listing.objects.length === 0) {
            const pointer = await this.r2(() => this.bucket.head(registryKeys.current(name)));
            if (!pointer) throw new ModelNotFoundError(name);
            throw new VersionNotFoundError(name, version);
          }
        }
        throw new ModelUnavailableError(label, 'manifest.json is missing');
      }
      const parsed = ManifestSchema.safeParse(parseJson(text));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ModelUnavailableError(label, `manifest.json is invalid (${issue.path.join('.') || 'root'}: ${issue.message})`);
      }
      if (parsed.data.name !== name || parsed.data.version !== version) {
        throw new ModelUnavailableError(label, `manifest.json describes ${parsed.data.name}@${parsed.data.version}`);
      }
      return parsed.data;
    } catch (error) {
      throw asUnavailable(label, error);
    }
  }

  private async loadVersion(model: ResolvedModel): Promise<LoadedModel> {
    const label = `${model.name}@${model.version}`;
    const started = performance.now();
    await initBackend();
    const { manifest } = model;
    // Only what the generator needs is read: model.json and the shards it names (the card and the
    // pictures beside them are for people), each checked against the manifest's size and sha256.
    const listed = new Map(manifest.files.map((f) => [f.path, f]));
    const readVerified = async (path: string): Promise<ArrayBuffer> => {
      const entry = listed.get(path);
      if (!entry) throw new ModelUnavailableError(label, `model.json names ${path.slice(0, 80)}, which the manifest does not list`);
      this.reads.files++;
      const bytes = await this.r2(async () => (await this.bucket.get(registryKeys.file(model.name, model.version, entry.path)))?.arrayBuffer());
      if (!bytes) throw new ModelUnavailableError(label, `file ${entry.path} is missing`);
      if (bytes.byteLength !== entry.bytes || (await sha256Hex(bytes)) !== entry.sha256) {
        throw new ModelUnavailableError(label, `file ${entry.path} fails its size or sha256 check`);
      }
      return bytes;
    };
    try {
      const modelJson = parseModelJson(new TextDecoder().decode(await readVerified('model.json')));
      const files = new Map(await Promise.all(shardPaths(modelJson).map(async (path) => [path, await readVerified(path)] as const)));
      const weights = await decodeWeights(modelJson, async (path) => files.get(path)!);
      let generator: FastGenerator;
      try {
        generator = FastGenerator.fromWeights(manifest.architecture, weights);
      } finally {
        tf.dispose(Object.values(weights));
      }
      const loaded: LoadedModel = {
        name: model.name,
        version: model.version,
        manifest,
        generator,
        bytes: generator.byteSize,
        loadedAt: new Date().toISOString(),
        loadMs: Math.round(performance.now() - started),
        disposed: false,
      };
      this.loaded.set(`${model.name}@${model.version}`, loaded);
      this.evict();
      return loaded;
    } catch (error) {
      throw asUnavailable(label, error);
    }
  }

  /** One R2 call, body included, within the deadline. */
  private r2<T>(call: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new R2TimeoutError(`R2 did not answer within ${this.r2TimeoutMs / 1000} s`)), this.r2TimeoutMs);
    });
    return Promise.race([call(), deadline]).finally(() => clearTimeout(timer));
  }

  private evict() {
    let used = [...this.loaded.values()].reduce((sum, m) => sum + m.bytes, 0);
    for (const [key, model] of this.loaded) {
      if (used <= this.options.byteBudget || this.loaded.size <= 1) break;
      this.loaded.delete(key);
      model.disposed = true;
      model.generator.dispose();
      used -= model.bytes;
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Typed API errors pass through; anything else (R2 failure, bad weights) becomes a 503. */
function asUnavailable(label: string, error: unknown): Error {
  if (error instanceof ModelNotFoundError || error instanceof VersionNotFoundError || error instanceof ModelUnavailableError) {
    return error;
  }
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
  console.error(`loading ${label} failed: ${reason}`);
  if (error instanceof R2TimeoutError) return new ModelUnavailableError(label, error.message);
  return new ModelUnavailableError(label, error instanceof Error && /Weight|Missing/.test(error.name) ? error.message : 'its files could not be read');
}
