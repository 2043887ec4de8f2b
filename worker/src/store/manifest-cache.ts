/**
 * Manifests by `name@version`, read once per isolate (versions are immutable). Concurrent first
 * requests share the pending read; a failed read is dropped so the next request tries again. At most
 * MAX_CACHED_MANIFESTS are kept, the oldest read dropped first.
 */
import type { Manifest } from '@gan/core/manifest';

export const MAX_CACHED_MANIFESTS = 64;

export class ManifestCache {
  private readonly manifests = new Map<string, Promise<Manifest>>();

  get(key: string, read: () => Promise<Manifest>): Promise<Manifest> {
    const cached = this.manifests.get(key);
    if (cached) return cached;
    const pending = read();
    this.manifests.set(key, pending);
    pending.catch(() => this.manifests.delete(key));
    if (this.manifests.size > MAX_CACHED_MANIFESTS) this.manifests.delete(this.manifests.keys().next().value!);
    return pending;
  }
}
