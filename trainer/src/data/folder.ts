/**
 * `folder:<path>`: every PNG and JPEG under a folder. Images directly in sub-folders become classes
 * named after the sub-folder (sorted); images at the top level alone make an unlabelled data set.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { decodeImage, toSquare } from './pixels.ts';
import { DatasetUnavailableError } from './twemoji.ts';
import type { RawDataset } from './types.ts';

const IMAGE_FILE = /\.(png|jpe?g)$/i;

export interface FolderOptions {
  imageSize: number;
  channels: 1 | 3;
  background: [number, number, number];
  labels: boolean;
}

/** The images a folder data set reads, as [relative path, class] in a stable order. */
export async function listFolder(root: string): Promise<{ files: { file: string; className: string | null }[]; digest: string }> {
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    throw new DatasetUnavailableError(`folder ${root} cannot be read`);
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const files: { file: string; className: string | null }[] = [];
  for (const e of entries) {
    if (e.isFile() && IMAGE_FILE.test(e.name)) files.push({ file: e.name, className: null });
    if (e.isDirectory() && !e.name.startsWith('.')) {
      const inner = (await readdir(path.join(root, e.name))).filter((n) => IMAGE_FILE.test(n)).sort();
      for (const n of inner) files.push({ file: path.join(e.name, n), className: e.name });
    }
  }
  // Digest of names, sizes and modification times: a changed folder gets a new cache entry.
  const hash = createHash('sha256');
  for (const f of files) {
    const s = await stat(path.join(root, f.file));
    hash.update(`${f.file}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return { files, digest: hash.digest('hex').slice(0, 16) };
}

export async function loadFolder(root: string, options: FolderOptions): Promise<RawDataset> {
  const { files, digest } = await listFolder(root);
  if (files.length === 0) throw new DatasetUnavailableError(`folder ${root} has no PNG or JPEG images`);
  const labelled = options.labels && files.some((f) => f.className !== null);
  const classNames = labelled ? [...new Set(files.map((f) => f.className ?? 'unlabelled'))].sort() : [];
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  for (const f of files) {
    images.push(
      toSquare(decodeImage(await readFile(path.join(root, f.file)), f.file), options.imageSize, options.channels, options.background),
    );
    labels.push(labelled ? classNames.indexOf(f.className ?? 'unlabelled') : 0);
  }
  return {
    name: `folder:${root}`,
    channels: options.channels,
    classNames,
    images,
    labels,
    licence: {
      licence: 'unknown',
      attribution: `Images from the folder ${path.basename(path.resolve(root))}; check their licence before publishing.`,
    },
    sourceVersion: `folder:${path.resolve(root)}:${digest}`,
  };
}
