import { registryKeys } from './layout.ts';
import { listVersions } from './catalog.ts';
import type { ObjectStorage } from './storage.ts';

export interface PruneOptions {
  /** How many of the newest complete versions to keep (besides the current one). */
  keep: number;
  /**
   * Versions published less than this long ago are kept whatever `keep` says: image URLs pinned to
   * them may be in the wild (cached pages, links).
   */
  minAgeMs: number;
  now?: () => Date;
  dryRun?: boolean;
  log?: (line: string) => void;
}

export interface PruneDecision {
  version: string;
  action: 'keep' | 'delete';
  reason: string;
}

/**
 * Deletes old versions of a model. Never the current one, never one younger than `minAgeMs`, never
 * one of the `keep` newest complete versions. Incomplete versions (left by an interrupted publish)
 * go too once they are older than `minAgeMs` (a younger one may be a publish in progress).
 */
export async function pruneVersions(storage: ObjectStorage, name: string, options: PruneOptions): Promise<PruneDecision[]> {
  if (!Number.isInteger(options.keep) || options.keep < 0) throw new RangeError('keep must be a non-negative integer');
  const now = (options.now?.() ?? new Date()).getTime();
  const { versions } = await listVersions(storage, name);
  const complete = versions.filter((v) => v.complete);
  const newestComplete = new Set(options.keep > 0 ? complete.slice(-options.keep).map((v) => v.version) : []);
  const decisions: PruneDecision[] = [];
  for (const v of [...versions].reverse()) {
    const age = now - v.publishedAt.getTime();
    let reason: string | undefined;
    if (v.isCurrent) reason = 'current';
    else if (age < options.minAgeMs) reason = `younger than the minimum age (${Math.round(age / 3_600_000)} h)`;
    else if (newestComplete.has(v.version)) reason = `one of the ${options.keep} newest`;
    decisions.push(
      reason
        ? { version: v.version, action: 'keep', reason }
        : { version: v.version, action: 'delete', reason: v.complete ? 'old' : 'incomplete upload' },
    );
  }
  for (const d of decisions) {
    options.log?.(`${d.action === 'delete' ? (options.dryRun ? 'would delete' : 'delete') : 'keep'} ${name}@${d.version}: ${d.reason}`);
    if (d.action !== 'delete' || options.dryRun) continue;
    const keys = (await storage.list(registryKeys.versionDir(name, d.version))).map((o) => o.key);
    // The manifest first: from then on the version reads as absent, never as a half-deleted one.
    const manifest = registryKeys.manifest(name, d.version);
    if (keys.includes(manifest)) await storage.delete([manifest]);
    await storage.delete(keys.filter((k) => k !== manifest));
  }
  return decisions;
}
