import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../atomic-write.ts';
import { z } from 'zod';
import { FileEntrySchema, ModelNameSchema, sha256Hex } from '@gan/core/manifest';
import { contentTypeFor, type ObjectStorage } from '@gan/registry';

/**
 * Training checkpoints in the bucket, so a scheduled retrain continues where the last one stopped.
 * A checkpoint is a run directory uploaded under `checkpoints/<name>/<id>/`, and
 * `checkpoints/<name>/latest.json` (written last, after every file was read back) names it: a push
 * cut short leaves the previous checkpoint as the latest.
 */
export const checkpointKeys = {
  latest: (name: string) => `checkpoints/${name}/latest.json`,
  dir: (name: string, id: string) => `checkpoints/${name}/${id}/`,
  file: (name: string, id: string, relPath: string) => `checkpoints/${name}/${id}/${relPath}`,
};

const RelativePathSchema = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'), 'a relative path inside the run');

export const CheckpointIndexSchema = z
  .object({
    id: z.string().regex(/^[0-9a-z-]+$/),
    name: ModelNameSchema,
    createdAt: z.string().datetime(),
    files: z.array(FileEntrySchema.extend({ path: RelativePathSchema })),
  })
  .strict();
export type CheckpointIndex = z.infer<typeof CheckpointIndexSchema>;

/** A checkpoint whose objects are missing or do not match their sha256. */
export class CheckpointIntegrityError extends Error {
  override name = 'CheckpointIntegrityError';
}

async function filesUnder(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, sub), { withFileTypes: true })) {
    // Half-written files and directories (the trainer writes `.tmp-*` and `*.tmp`, then renames).
    if (entry.name.startsWith('.tmp') || entry.name.endsWith('.tmp')) continue;
    const rel = sub ? `${sub}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(root, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

const sha = (b: Uint8Array) => sha256Hex(b as Uint8Array<ArrayBuffer>);

export interface PushOptions {
  now?: () => Date;
  /** Older checkpoints kept besides the new one (default 1: the one before, in case the new one is bad). */
  keepPrevious?: number;
  /** Skip files whose relative path matches (e.g. sample grids that are not needed to resume). */
  exclude?: (relPath: string) => boolean;
  log?: (line: string) => void;
}

/** Uploads the run directory as the model's latest checkpoint. */
export async function pushCheckpoint(
  storage: ObjectStorage,
  name: string,
  runDir: string,
  options: PushOptions = {},
): Promise<CheckpointIndex> {
  ModelNameSchema.parse(name);
  const now = options.now?.() ?? new Date();
  const id = now.toISOString().replace(/[-:.]/g, '').toLowerCase();
  const paths = (await filesUnder(runDir)).filter((p) => !options.exclude?.(p));
  if (paths.length === 0) throw new CheckpointIntegrityError(`${runDir} has no files to push`);
  const files: CheckpointIndex['files'] = [];
  for (const rel of paths) {
    const bytes = new Uint8Array(await readFile(path.join(runDir, rel)));
    const digest = await sha(bytes);
    const key = checkpointKeys.file(name, id, rel);
    await storage.put(key, bytes, { contentType: contentTypeFor(rel) });
    const back = await storage.get(key);
    if (!back || (await sha(back)) !== digest) throw new CheckpointIntegrityError(`${key} read back with other bytes`);
    files.push({ path: rel, bytes: bytes.byteLength, sha256: digest });
    options.log?.(`uploaded ${key} (${bytes.byteLength} bytes)`);
  }
  const index: CheckpointIndex = { id, name, createdAt: now.toISOString(), files };
  await storage.put(checkpointKeys.latest(name), new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`), {
    contentType: 'application/json',
  });
  // Drop checkpoints older than the ones kept; never the one latest.json names.
  const keep = options.keepPrevious ?? 1;
  const ids = new Set<string>();
  const prefix = `checkpoints/${name}/`;
  const objects = await storage.list(prefix);
  for (const o of objects) {
    const rest = o.key.slice(prefix.length);
    if (rest.includes('/')) ids.add(rest.slice(0, rest.indexOf('/')));
  }
  const older = [...ids].filter((i) => i !== id).sort();
  const drop = new Set(older.slice(0, Math.max(0, older.length - keep)));
  const dropKeys = objects.filter((o) => drop.has(o.key.slice(prefix.length).split('/')[0])).map((o) => o.key);
  if (dropKeys.length > 0) {
    await storage.delete(dropKeys);
    options.log?.(`deleted ${drop.size} older checkpoint(s)`);
  }
  return index;
}

/**
 * Downloads the model's latest checkpoint into `runDir` (files written atomically, each checked
 * against its sha256). Returns null when the model has no checkpoint yet: the first run starts fresh.
 */
export async function pullCheckpoint(
  storage: ObjectStorage,
  name: string,
  runDir: string,
  options: { log?: (line: string) => void } = {},
): Promise<CheckpointIndex | null> {
  ModelNameSchema.parse(name);
  const indexBytes = await storage.get(checkpointKeys.latest(name));
  if (!indexBytes) return null;
  const index = CheckpointIndexSchema.parse(JSON.parse(new TextDecoder().decode(indexBytes)));
  for (const f of index.files) {
    const key = checkpointKeys.file(name, index.id, f.path);
    const bytes = await storage.get(key);
    if (!bytes) throw new CheckpointIntegrityError(`${key} is missing`);
    if ((await sha(bytes)) !== f.sha256) throw new CheckpointIntegrityError(`${key} does not match its sha256`);
    const target = path.join(runDir, f.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomically(target, bytes);
    options.log?.(`downloaded ${key} (${bytes.byteLength} bytes)`);
  }
  return index;
}
