/**
 * `folder:<path>`: every PNG and JPEG under a folder (folder-scan.ts: the layout, the resize rule and
 * what is skipped). Sub-folders are classes named after them (sorted); images at the top level alone
 * make an unlabelled data set. Each skipped file is logged with its reason; a class folder without a
 * usable image stops the load (FolderProblemsError), since training without it would quietly change
 * the model's classes.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FolderProblemsError, FolderUnreadableError, UNLABELLED_CLASS, listCandidates, scanFolder } from './folder-scan.ts';
import { DatasetUnavailableError } from './twemoji.ts';
import type { RawDataset } from './types.ts';

export { FolderProblemsError } from './folder-scan.ts';

export interface FolderOptions {
  imageSize: number;
  channels: 1 | 3;
  background: [number, number, number];
  labels: boolean;
  log?: (line: string) => void;
}

/**
 * Every file a folder data set looks at, as [relative path, class] in a stable order, and a digest of
 * their names, sizes and modification times: a changed folder gets a new cache entry.
 */
export async function listFolder(root: string): Promise<{ files: { file: string; className: string | null }[]; digest: string }> {
  let listed: Awaited<ReturnType<typeof listCandidates>>;
  try {
    listed = await listCandidates(root);
  } catch (err) {
    if (err instanceof FolderUnreadableError) throw new DatasetUnavailableError(err.message);
    throw err;
  }
  const files = listed.candidates;
  const hash = createHash('sha256');
  for (const f of files) {
    const s = await stat(path.join(root, f.file)).catch(() => undefined);
    hash.update(`${f.file}\0${s?.size}\0${s?.mtimeMs}\n`);
  }
  for (const c of listed.classFolders) hash.update(`${c}/\n`); // an empty class folder changes the data set too
  return { files, digest: hash.digest('hex').slice(0, 16) };
}

export async function loadFolder(root: string, options: FolderOptions): Promise<RawDataset> {
  let scan: Awaited<ReturnType<typeof scanFolder>>;
  try {
    scan = await scanFolder(root, options);
  } catch (err) {
    if (err instanceof FolderUnreadableError) throw new DatasetUnavailableError(err.message);
    throw err;
  }
  for (const s of scan.skipped) options.log?.(`skipped ${path.join(root, s.file)}: ${s.reason}`);
  if (scan.images.length === 0 && scan.classes.length === 0) throw new DatasetUnavailableError(scan.problems.join('; '));
  if (scan.problems.length > 0) throw new FolderProblemsError(root, scan.problems);
  const labelled = options.labels && scan.classes.length > 0;
  const classNames = labelled ? scan.classes.map((c) => c.name) : [];
  return {
    name: `folder:${root}`,
    channels: options.channels,
    classNames,
    images: scan.images.map((i) => i.pixels),
    labels: scan.images.map((i) => (labelled ? classNames.indexOf(i.className ?? UNLABELLED_CLASS) : 0)),
    licence: {
      licence: 'unknown',
      attribution: `Images from the folder ${path.basename(path.resolve(root))}; check their licence before publishing.`,
    },
    sourceVersion: `folder:${path.resolve(root)}:${(await listFolder(root)).digest}`,
  };
}
