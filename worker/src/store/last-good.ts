/**
 * Last-good fallback: if the version current.json names cannot be served (manifest or files missing,
 * corrupt, or R2 too slow) and this isolate has served an earlier current version of the model, that
 * version keeps serving (under its own version name and ETag) until the new one loads; without one,
 * the model's embedded version does, if the bundle has one. Pinned versions never fall back. Each
 * fallback is logged once and counted for /healthz.
 */
import { ModelUnavailableError } from '../errors.ts';
import type { ResolvedModel } from '../model-store.ts';

export interface Fallback {
  model: string;
  /** The version current.json names, which could not be served. */
  wanted: string;
  /** The last good version served instead. */
  serving: string;
  reason: string;
  count: number;
}

export class LastGoodVersions {
  /** Per model: the last version current.json named that served. */
  private readonly lastGood = new Map<string, ResolvedModel>();
  /** By `name@wanted`. */
  private readonly fallbacks = new Map<string, Fallback>();

  /** A loaded model served: if it is the moving current version, it is now the one to fall back on. */
  served(model: ResolvedModel): void {
    if (!model.pinned) this.lastGood.set(model.name, model);
  }

  /** The current version was just loaded: it serves, so whatever this model fell back from is over. */
  loaded(model: ResolvedModel): void {
    if (model.pinned) return;
    this.lastGood.set(model.name, model);
    for (const [key, f] of this.fallbacks) if (f.model === model.name) this.fallbacks.delete(key);
  }

  /**
   * The version to serve instead of `model` after `error`: the last good current version of the
   * model, else `embedded` (the model's version in the bundle), if `model` is the moving current
   * version that failed to load.
   */
  fallbackFor(
    model: Pick<ResolvedModel, 'name' | 'version' | 'pinned'>,
    error: unknown,
    embedded?: ResolvedModel,
  ): ResolvedModel | undefined {
    if (model.pinned || !(error instanceof ModelUnavailableError)) return undefined;
    const good = this.lastGood.get(model.name) ?? embedded;
    if (!good || good.version === model.version) return undefined;
    return this.fallbackTo(model.name, model.version, error, good);
  }

  /** Records that `good` serves in place of `wanted` (a version, or what could not be read) and returns it. */
  fallbackTo(name: string, wanted: string, error: ModelUnavailableError, good: ResolvedModel): ResolvedModel {
    const key = `${name}@${wanted}`;
    const entry = this.fallbacks.get(key) ?? { model: name, wanted, serving: good.version, reason: error.reason, count: 0 };
    if (entry.count === 0) console.error(`${key} cannot be served (${error.reason}); serving ${good.version} in its place`);
    this.fallbacks.set(key, { ...entry, serving: good.version, reason: error.reason, count: entry.count + 1 });
    return good;
  }

  /** Fallbacks in effect, for /healthz. */
  list(): Fallback[] {
    return [...this.fallbacks.values()].map((f) => ({ ...f }));
  }
}
