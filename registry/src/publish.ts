import { sha256Hex } from '@gan/core/manifest';
import { type CurrentPointer, CurrentPointerSchema, IMMUTABLE_CACHE_CONTROL, POINTER_CACHE_CONTROL, registryKeys } from './layout.ts';
import type { ExportedModel } from './exported-model.ts';
import { contentTypeFor, type ObjectStorage, PreconditionFailedError } from './storage.ts';

/** The version already exists in the bucket with other bytes; versions are immutable. */
export class VersionConflictError extends Error {
  override name = 'VersionConflictError';
}
/** An uploaded object read back with other bytes than were sent. */
export class ReadBackError extends Error {
  override name = 'ReadBackError';
}

/**
 * current.json moved between this run reading it and writing it (another publish or rollback got
 * there first): this run's write was refused, so the other run's choice stands.
 */
export class PointerMovedError extends Error {
  override name = 'PointerMovedError';
}

export interface PublishOptions {
  /** Called after each object written (used to stop a publish half-way in tests). */
  onUpload?: (key: string, uploadsSoFar: number) => void | Promise<void>;
  log?: (line: string) => void;
  now?: () => Date;
}

export interface PublishResult {
  name: string;
  version: string;
  /** Keys written by this run. */
  uploaded: string[];
  /** Keys already present with the same bytes (a re-run after an interruption, or a repeat). */
  alreadyPresent: string[];
  /** The version current.json named before, if any. */
  previous?: string;
  /** Whether current.json was written (false when it already named this version). */
  currentChanged: boolean;
}

async function sha(bytes: Uint8Array): Promise<string> {
  return sha256Hex(bytes as Uint8Array<ArrayBuffer>);
}

/** Reads `models/<name>/current.json`; null when the model has never been published. */
export async function readCurrent(storage: ObjectStorage, name: string): Promise<CurrentPointer | null> {
  return (await readCurrentWithEtag(storage, name))?.pointer ?? null;
}

/** current.json with the ETag that `writeCurrent` needs to move it safely. */
export interface CurrentRead {
  pointer: CurrentPointer;
  etag: string;
}

export async function readCurrentWithEtag(storage: ObjectStorage, name: string): Promise<CurrentRead | null> {
  const object = await storage.getWithEtag(registryKeys.current(name));
  if (!object) return null;
  return { pointer: CurrentPointerSchema.parse(JSON.parse(new TextDecoder().decode(object.bytes))), etag: object.etag };
}

/**
 * Points current.json at `version` — the one write that makes a version what users get — as a
 * compare-and-swap against `seen`, the current.json this run read (null: there was none). If another
 * run moved it in between, nothing is written and PointerMovedError says what it names now.
 */
export async function writeCurrent(
  storage: ObjectStorage,
  name: string,
  version: string,
  now: Date,
  seen: CurrentRead | null,
): Promise<CurrentPointer> {
  const pointer: CurrentPointer = { version, publishedAt: now.toISOString() };
  const bytes = new TextEncoder().encode(`${JSON.stringify(pointer)}\n`);
  try {
    await storage.put(registryKeys.current(name), bytes, {
      contentType: 'application/json',
      cacheControl: POINTER_CACHE_CONTROL,
      onlyIf: seen ? { etag: seen.etag } : { absent: true },
    });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    const moved = await readCurrent(storage, name);
    throw new PointerMovedError(
      `${registryKeys.current(name)} changed while this run was working (it named ${seen?.pointer.version ?? 'nothing'}, ` +
        `now ${moved?.version ?? 'nothing'}); left as the other run set it. ${name}@${version} is stored whole: run again to make it current`,
    );
  }
  return pointer;
}

/**
 * Publishes an exported model: uploads the version's files (manifest.json last), reads every object
 * back and checks its sha256, and only then points current.json at the version. A reader therefore
 * sees the old version or the new one, never a mix, and a publish stopped at any point leaves the
 * old version serving; running it again uploads what is missing and finishes. The pointer moves by
 * compare-and-swap: of two runs racing, one moves it and the other fails with PointerMovedError
 * (its version stays stored whole), so no run reports success while another's choice is served.
 *
 * Versions are immutable: if any object of the version already exists with other bytes, nothing is
 * written and VersionConflictError is thrown. Publishing the same export twice changes nothing.
 */
export async function publishModel(storage: ObjectStorage, model: ExportedModel, options: PublishOptions = {}): Promise<PublishResult> {
  const { name, version } = model.manifest;
  const log = options.log ?? (() => {});
  // The files the manifest lists, then the manifest: a version with a manifest is a complete version.
  const objects: { key: string; bytes: Uint8Array; sha256: string }[] = [];
  for (const entry of model.manifest.files) {
    objects.push({ key: registryKeys.file(name, version, entry.path), bytes: model.files.get(entry.path)!, sha256: entry.sha256 });
  }
  objects.push({ key: registryKeys.manifest(name, version), bytes: model.manifestBytes, sha256: await sha(model.manifestBytes) });

  // 1. What is there already? Refuse before writing anything if the version exists with other bytes.
  const missing: typeof objects = [];
  const alreadyPresent: string[] = [];
  for (const object of objects) {
    const existing = await storage.get(object.key);
    if (existing === null) missing.push(object);
    else if ((await sha(existing)) === object.sha256) alreadyPresent.push(object.key);
    else {
      throw new VersionConflictError(
        `${name}@${version} already exists with other bytes (${object.key}); versions are immutable: export again to get a new version`,
      );
    }
  }

  // 2. Upload what is missing, in order (manifest.json last).
  const uploaded: string[] = [];
  for (const object of missing) {
    const path = object.key.slice(registryKeys.versionDir(name, version).length);
    await storage.put(object.key, object.bytes, { contentType: contentTypeFor(path), cacheControl: IMMUTABLE_CACHE_CONTROL });
    uploaded.push(object.key);
    log(`uploaded ${object.key} (${object.bytes.byteLength} bytes)`);
    await options.onUpload?.(object.key, uploaded.length);
  }

  // 3. Read everything back: what users will be served must be exactly what was exported.
  for (const object of objects) {
    const back = await storage.get(object.key);
    if (!back || (await sha(back)) !== object.sha256) {
      throw new ReadBackError(`${object.key} read back ${back ? 'with another sha256' : 'missing'}; current.json left unchanged`);
    }
  }
  log(`verified ${objects.length} objects of ${name}@${version} (sha256)`);

  // 4. Flip current.json, last.
  const seen = await readCurrentWithEtag(storage, name);
  const before = seen?.pointer;
  let currentChanged = false;
  if (before?.version !== version) {
    await writeCurrent(storage, name, version, options.now?.() ?? new Date(), seen);
    currentChanged = true;
    log(`${registryKeys.current(name)}: ${before?.version ?? '(none)'} → ${version}`);
  } else {
    log(`${registryKeys.current(name)} already names ${version}`);
  }
  return { name, version, uploaded, alreadyPresent, previous: before?.version, currentChanged };
}
