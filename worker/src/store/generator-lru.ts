/**
 * Loaded generators kept within a byte budget of folded weights (their upscalers' included: FastGenerator.byteSize), least recently used evicted first;
 * the most recently used one always stays, whatever its size. Rendering is synchronous once a
 * generator is in hand, so eviction never disposes weights in the middle of a forward pass; a
 * generator evicted between its load settling and its use is marked `disposed`.
 */
import type { LoadedModel } from '../model-store.ts';

export class GeneratorLru {
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly loaded = new Map<string, LoadedModel>();

  constructor(readonly budgetBytes: number) {}

  /** The loaded model under `key`, now the most recently used. */
  get(key: string): LoadedModel | undefined {
    const hit = this.loaded.get(key);
    if (hit) {
      this.loaded.delete(key);
      this.loaded.set(key, hit);
    }
    return hit;
  }

  /** Whether `key` is loaded (without touching its recency). */
  has(key: string): boolean {
    return this.loaded.has(key);
  }

  /** Adds a freshly loaded model as the most recently used, evicting others beyond the budget. */
  add(key: string, model: LoadedModel): void {
    this.loaded.set(key, model);
    let used = this.usedBytes();
    for (const [k, old] of this.loaded) {
      if (used <= this.budgetBytes || this.loaded.size <= 1) break;
      this.loaded.delete(k);
      old.disposed = true;
      old.generator.dispose();
      used -= old.bytes;
    }
  }

  models(): LoadedModel[] {
    return [...this.loaded.values()];
  }

  usedBytes(): number {
    return this.models().reduce((sum, m) => sum + m.bytes, 0);
  }
}
