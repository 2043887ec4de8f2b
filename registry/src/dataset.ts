/**
 * Training data sets in the bucket, so a model's images need not be committed: `gan dataset push`
 * uploads a folder (every file that is not hidden, at any depth) under `datasets/<name>/`, and
 * `gan dataset pull` downloads it and checks every file against the manifest's sha256.
 *
 * Objects are stored by content (`objects/<sha256>`), each read back and checked before the manifest
 * is written, and the manifest is written last: a push cut short leaves the previous manifest whole.
 * After the new manifest is written, objects no manifest names any more are deleted.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelNameSchema, sha256Hex } from '@gan/core/manifest';
import { datasetKeys } from './layout.ts';
import type { ObjectStorage } from './storage.ts';

/** A path inside the data set: `/`-separated, no empty, `.`, `..` or hidden segments. */
const DatasetPathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && p.split('/').every((s) => s !== '' && !s.startsWith('.')), 'a relative path inside the data set');

export const DatasetManifestSchema = z
  .object({
    name: ModelNameSchema,
    createdAt: z.string().datetime(),
    files: z.array(
      z.object({ path: DatasetPathSchema, bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
    ),
  })
  .strict();
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;

/** Written by `pull` beside the files: which data set the folder holds (a later pull may replace its files). */
export const PULLED_MARKER = '.gan-dataset.json';

/** A data set's objects are missing or do not match the manifest. */
export class DatasetIntegrityError extends Error {
  override name = 'DatasetIntegrityError';
}
/** No data set of that name in the bucket. */
export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
}
/** The folder to push is empty, or the folder to pull into holds other files. */
export class DatasetFolderError extends Error {
  override name = 'DatasetFolderError';
}

const sha = (bytes: Uint8Array) => sha256Hex(bytes as Uint8Array<ArrayBuffer>);

/** Every file under `root` that is not hidden, as `/`-separated relative paths in sorted order. */
export async function datasetFiles(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(root, sub), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const rel = sub ? `${sub}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await datasetFiles(root, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

export interface DatasetOptions {
  now?: () => Date;
  log?: (line: string) => void;
}

/** Uploads the folder as data set `name`; objects already in the bucket are not uploaded again. */
export async function pushDataset(
  storage: ObjectStorage,
  name: string,
  folder: string,
  options: DatasetOptions = {},
): Promise<DatasetManifest> {
  ModelNameSchema.parse(name);
  let paths: string[];
  try {
    paths = await datasetFiles(folder);
  } catch {
    throw new DatasetFolderError(`folder ${folder} cannot be read`);
  }
  if (paths.length === 0) throw new DatasetFolderError(`${folder} has no files to push`);
  const present = new Set((await storage.list(datasetKeys.objects(name))).map((o) => o.key));
  const files: DatasetManifest['files'] = [];
  let uploaded = 0;
  for (const rel of paths) {
    const bytes = new Uint8Array(await readFile(path.join(folder, rel)));
    const digest = await sha(bytes);
    const key = datasetKeys.object(name, digest);
    if (!present.has(key)) {
      await storage.put(key, bytes, { contentType: 'application/octet-stream' });
      const back = await storage.get(key);
      if (!back || (await sha(back)) !== digest) throw new DatasetIntegrityError(`${key} (${rel}) read back with other bytes`);
      present.add(key);
      uploaded++;
      options.log?.(`uploaded ${rel} (${bytes.byteLength} bytes)`);
    }
    files.push({ path: rel, bytes: bytes.byteLength, sha256: digest });
  }
  const manifest: DatasetManifest = { name, createdAt: (options.now?.() ?? new Date()).toISOString(), files };
  await storage.put(datasetKeys.manifest(name), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`), {
    contentType: 'application/json',
  });
  const wanted = new Set(files.map((f) => datasetKeys.object(name, f.sha256)));
  const unused = [...present].filter((k) => !wanted.has(k));
  if (unused.length > 0) {
    await storage.delete(unused);
    options.log?.(`deleted ${unused.length} object(s) the new manifest no longer names`);
  }
  options.log?.(`${name}: ${files.length} files, ${uploaded} uploaded, ${files.length - uploaded} already in the bucket`);
  return manifest;
}

export async function readDatasetManifest(storage: ObjectStorage, name: string): Promise<DatasetManifest | null> {
  ModelNameSchema.parse(name);
  const bytes = await storage.get(datasetKeys.manifest(name));
  if (!bytes) return null;
  const parsed = DatasetManifestSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!parsed.success)
    throw new DatasetIntegrityError(`${datasetKeys.manifest(name)} is not a data set manifest: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/**
 * Downloads data set `name` into `folder`, each file checked against its sha256 before it is written.
 * The folder must be empty or hold an earlier pull (then files the manifest no longer lists are removed,
 * so the folder is exactly the data set).
 */
export async function pullDataset(
  storage: ObjectStorage,
  name: string,
  folder: string,
  options: DatasetOptions = {},
): Promise<DatasetManifest> {
  const manifest = await readDatasetManifest(storage, name);
  if (!manifest)
    throw new DatasetNotFoundError(`no data set ${name} in the bucket (push one with gan dataset push <folder> --name ${name})`);
  await mkdir(folder, { recursive: true });
  const existing = await datasetFiles(folder);
  const pulledBefore = (await readdir(folder)).includes(PULLED_MARKER);
  if (existing.length > 0 && !pulledBefore) throw new DatasetFolderError(`${folder} already holds other files: pull into an empty folder`);
  // The marker first: a pull cut short can be run again into the same folder.
  await writeFile(path.join(folder, PULLED_MARKER), `${JSON.stringify({ name, createdAt: manifest.createdAt }, null, 2)}\n`);
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const rel of existing) if (!listed.has(rel)) await rm(path.join(folder, rel));

  let downloaded = 0;
  for (const f of manifest.files) {
    const target = path.join(folder, f.path);
    const current = await readFile(target).catch(() => undefined);
    if (current && (await sha(new Uint8Array(current))) === f.sha256) continue;
    const key = datasetKeys.object(name, f.sha256);
    const bytes = await storage.get(key);
    if (!bytes) throw new DatasetIntegrityError(`${f.path}: ${key} is missing from the bucket`);
    if ((await sha(bytes)) !== f.sha256) throw new DatasetIntegrityError(`${f.path}: ${key} does not match its sha256`);
    await mkdir(path.dirname(target), { recursive: true });
    const partial = `${target}.partial`;
    await writeFile(partial, bytes);
    await rename(partial, target);
    downloaded++;
  }
  options.log?.(`${name}: ${manifest.files.length} files verified, ${downloaded} downloaded`);
  return manifest;
}
