import { listVersions, verifyStoredVersion, VersionUnavailableError } from './catalog.ts';
import { writeCurrent } from './publish.ts';
import type { ObjectStorage } from './storage.ts';

/** Nothing to roll back to: no current version, or none before it. */
export class NothingToRollBackError extends Error {
  override name = 'NothingToRollBackError';
}

export interface RollbackResult {
  name: string;
  from: string;
  to: string;
}

/**
 * Points current.json at another stored version: `to`, or else the newest complete version older
 * than the current one. The target is verified whole (every file's sha256) before the pointer moves.
 */
export async function rollback(
  storage: ObjectStorage,
  name: string,
  options: { to?: string; now?: () => Date } = {},
): Promise<RollbackResult> {
  const { current, currentEtag, versions } = await listVersions(storage, name);
  if (!current) throw new NothingToRollBackError(`${name} has no current version`);
  let target = options.to;
  if (target === undefined) {
    const complete = versions.filter((v) => v.complete);
    const index = complete.findIndex((v) => v.version === current.version);
    const older = index < 0 ? [] : complete.slice(0, index);
    if (older.length === 0) throw new NothingToRollBackError(`${name}@${current.version} has no older complete version`);
    target = older[older.length - 1].version;
  }
  if (target === current.version) throw new NothingToRollBackError(`${name}@${target} is already current`);
  if (!versions.some((v) => v.version === target)) throw new VersionUnavailableError(`${name}@${target} is not in the bucket`);
  await verifyStoredVersion(storage, name, target);
  // Against the pointer as listed: if a publish moved it meanwhile, the rollback does not undo it.
  await writeCurrent(storage, name, target, options.now?.() ?? new Date(), { pointer: current, etag: currentEtag! });
  return { name, from: current.version, to: target };
}
