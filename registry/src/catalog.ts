import { MANIFEST_FILE, type Manifest, MissingModelFileError, ModelFilesError, parseManifest, verifyModelFile } from '@gan/core/manifest';
import { type CurrentPointer, registryKeys } from './layout.ts';
import { readCurrentWithEtag } from './publish.ts';
import type { ObjectStorage } from './storage.ts';

export interface VersionInfo {
  version: string;
  /** Has a valid manifest.json (publish writes it after every other file of the version). */
  complete: boolean;
  manifest?: Manifest;
  /** When manifest.json was written (the version's publish time), else the newest object's time. */
  publishedAt: Date;
  objects: number;
  bytes: number;
  isCurrent: boolean;
}

export interface ModelVersions {
  name: string;
  current: CurrentPointer | null;
  /** current.json's ETag as read here: what a compare-and-swap of the pointer (writeCurrent) checks. */
  currentEtag: string | null;
  /** Oldest first: complete versions by manifest createdAt, incomplete ones by upload time. */
  versions: VersionInfo[];
}

/** The names of every model in the bucket. */
export async function listModelNames(storage: ObjectStorage): Promise<string[]> {
  const names = new Set<string>();
  for (const o of await storage.list(registryKeys.prefix)) {
    const name = o.key.slice(registryKeys.prefix.length).split('/')[0];
    if (name) names.add(name);
  }
  return [...names].sort();
}

/** Every version of a model stored in the bucket, with its manifest and which one is current. */
export async function listVersions(storage: ObjectStorage, name: string): Promise<ModelVersions> {
  const prefix = `${registryKeys.prefix}${name}/`;
  const currentRead = await readCurrentWithEtag(storage, name);
  const current = currentRead?.pointer ?? null;
  const byVersion = new Map<string, { keys: string[]; bytes: number; newest: Date; manifestAt?: Date }>();
  for (const o of await storage.list(prefix)) {
    const rest = o.key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) continue; // current.json
    const version = rest.slice(0, slash);
    const entry = byVersion.get(version) ?? { keys: [], bytes: 0, newest: new Date(0) };
    entry.keys.push(o.key);
    entry.bytes += o.size;
    if (o.uploaded > entry.newest) entry.newest = o.uploaded;
    if (o.key === registryKeys.manifest(name, version)) entry.manifestAt = o.uploaded;
    byVersion.set(version, entry);
  }
  const versions: VersionInfo[] = [];
  for (const [version, entry] of byVersion) {
    let manifest: Manifest | undefined;
    if (entry.manifestAt) {
      manifest = await readStoredManifest(storage, name, version).catch((error: unknown) => {
        if (error instanceof ModelFilesError) return undefined; // listed as incomplete
        throw error;
      });
    }
    versions.push({
      version,
      complete: manifest !== undefined,
      manifest,
      publishedAt: entry.manifestAt ?? entry.newest,
      objects: entry.keys.length,
      bytes: entry.bytes,
      isCurrent: current?.version === version,
    });
  }
  const time = (v: VersionInfo) => (v.manifest ? Date.parse(v.manifest.createdAt) : v.publishedAt.getTime());
  versions.sort((a, b) => time(a) - time(b) || (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  return { name, current, currentEtag: currentRead?.etag ?? null, versions };
}

/** A version that is not in the bucket. */
export class VersionUnavailableError extends Error {
  override name = 'VersionUnavailableError';
}

/** A stored version's manifest, checked to describe that version; core's ModelFilesError if it cannot be used. */
export async function readStoredManifest(storage: ObjectStorage, name: string, version: string): Promise<Manifest> {
  const label = `${name}@${version}`;
  const bytes = await storage.get(registryKeys.manifest(name, version));
  if (!bytes) throw new MissingModelFileError(label, MANIFEST_FILE);
  return parseManifest(bytes, label, { name, version });
}

/**
 * Checks that a stored version is whole: its manifest is valid and every file it lists is in the
 * bucket with the listed size and sha256 (else core's ModelFilesError says what is wrong). Run before
 * current.json is pointed at a version that was not just uploaded (rollback).
 */
export async function verifyStoredVersion(storage: ObjectStorage, name: string, version: string): Promise<Manifest> {
  const manifest = await readStoredManifest(storage, name, version);
  for (const entry of manifest.files) {
    await verifyModelFile(`${name}@${version}`, entry, await storage.get(registryKeys.file(name, version, entry.path)));
  }
  return manifest;
}
