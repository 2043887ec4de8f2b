/**
 * Reading a user's folder of images, file by file, with a line for every file that is not used.
 *
 * Layout: images directly in `<root>` make an unlabelled data set; sub-folders of `<root>` are classes
 * named after them (sorted), and images at the top level next to them form the class `unlabelled`.
 * Folders deeper than one level, hidden files and folders (`.name`), and every file that is not a
 * readable PNG or JPEG at least as large as the model are skipped, each with its reason.
 *
 * Each image becomes a square of the model's size: composited over the background (default white)
 * where it is transparent, centre-cropped to the largest square, then shrunk by area averaging.
 * Images smaller than the model on their shorter side are refused rather than enlarged.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Conversion, readImageFile } from './image-file.ts';
import { toSquare } from './pixels.ts';

export interface FolderScanOptions {
  imageSize: number;
  channels: 1 | 3;
  background: [number, number, number];
}

export interface AcceptedImage {
  /** Path relative to the root, with `/` separators. */
  file: string;
  /** The sub-folder it is in; null at the top level. */
  className: string | null;
  width: number;
  height: number;
  /** [imageSize, imageSize, channels] bytes. */
  pixels: Uint8Array;
  conversions: Conversion[];
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface FolderScan {
  root: string;
  images: AcceptedImage[];
  skipped: SkippedFile[];
  /** Every class folder (and `unlabelled` for top-level images beside them), with its usable images. */
  classes: { name: string; count: number }[];
  /** Each kind of conversion with how many images needed it, in a fixed order; only kinds that occurred. */
  conversions: { kind: string; count: number }[];
  /** What stops the folder from being trained on as it is (an empty class), one line each. */
  problems: string[];
}

/** The folder cannot be trained on as it is: each problem names the folder or file and why. */
export class FolderProblemsError extends Error {
  override name = 'FolderProblemsError';
  constructor(
    readonly root: string,
    readonly problems: string[],
  ) {
    super(`${root} cannot be trained on as it is:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The folder itself cannot be listed. */
export class FolderUnreadableError extends Error {
  override name = 'FolderUnreadableError';
}

export const UNLABELLED_CLASS = 'unlabelled';

interface Candidate {
  file: string;
  className: string | null;
}

async function sortedEntries(dir: string): Promise<Dirent[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether an entry is a directory, following symbolic links. */
async function isDirectory(dir: string, entry: Dirent): Promise<boolean | undefined> {
  if (entry.isDirectory()) return true;
  if (entry.isFile()) return false;
  try {
    return (await stat(path.join(dir, entry.name))).isDirectory();
  } catch {
    return undefined; // a broken link
  }
}

/** The files to try, the class folders, and what was skipped without reading (hidden, too deep, unreadable). */
export async function listCandidates(root: string): Promise<{ candidates: Candidate[]; classFolders: string[]; skipped: SkippedFile[] }> {
  let top: Dirent[];
  try {
    top = await sortedEntries(root);
  } catch {
    throw new FolderUnreadableError(`folder ${root} cannot be read`);
  }
  const candidates: Candidate[] = [];
  const classFolders: string[] = [];
  const skipped: SkippedFile[] = [];
  for (const entry of top) {
    const dir = await isDirectory(root, entry);
    if (entry.name.startsWith('.')) {
      skipped.push({ file: dir ? `${entry.name}/` : entry.name, reason: `hidden ${dir ? 'folder' : 'file'}` });
      continue;
    }
    if (dir === undefined) {
      skipped.push({ file: entry.name, reason: 'a link to nothing' });
      continue;
    }
    if (!dir) {
      candidates.push({ file: entry.name, className: null });
      continue;
    }
    classFolders.push(entry.name);
    let inner: Dirent[];
    try {
      inner = await sortedEntries(path.join(root, entry.name));
    } catch {
      skipped.push({ file: `${entry.name}/`, reason: 'the folder cannot be read' });
      continue;
    }
    for (const e of inner) {
      const rel = `${entry.name}/${e.name}`;
      const innerDir = await isDirectory(path.join(root, entry.name), e);
      if (e.name.startsWith('.')) skipped.push({ file: innerDir ? `${rel}/` : rel, reason: `hidden ${innerDir ? 'folder' : 'file'}` });
      else if (innerDir === undefined) skipped.push({ file: rel, reason: 'a link to nothing' });
      else if (innerDir)
        skipped.push({ file: `${rel}/`, reason: `a folder inside the class folder ${entry.name}/: classes are one level deep` });
      else candidates.push({ file: rel, className: entry.name });
    }
  }
  return { candidates, classFolders, skipped };
}

const CONVERSION_ORDER: Conversion[] = [
  '16-bit PNG',
  'palette PNG',
  'greyscale',
  'CMYK JPEG',
  'turned upright (EXIF orientation)',
  'transparency',
];

/** Reads every image of the folder as the model will see it; never throws for a bad file, only lists it. */
export async function scanFolder(root: string, options: FolderScanOptions): Promise<FolderScan> {
  const { candidates, classFolders, skipped } = await listCandidates(root);
  const images: AcceptedImage[] = [];
  for (const c of candidates) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path.join(root, c.file)));
    } catch {
      skipped.push({ file: c.file, reason: 'the file cannot be read' });
      continue;
    }
    const read = readImageFile(bytes);
    if (!read.ok) {
      skipped.push({ file: c.file, reason: read.reason });
      continue;
    }
    const { width, height } = read.image;
    if (Math.min(width, height) < options.imageSize) {
      skipped.push({
        file: c.file,
        reason: `${width}×${height} is smaller than the model's ${options.imageSize}×${options.imageSize} (images are shrunk, never enlarged)`,
      });
      continue;
    }
    const pixels = toSquare(read.image, options.imageSize, options.channels, options.background);
    images.push({ file: c.file, className: c.className, width, height, pixels, conversions: read.conversions });
  }
  skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));

  const hasTopLevel = candidates.some((c) => c.className === null);
  const classNames = classFolders.length > 0 ? [...classFolders, ...(hasTopLevel ? [UNLABELLED_CLASS] : [])].sort() : [];
  const classes = classNames.map((name) => ({
    name,
    count: images.filter((i) => (i.className ?? UNLABELLED_CLASS) === name).length,
  }));

  const problems: string[] = [];
  for (const c of classes) {
    if (c.count > 0) continue;
    const had = candidates.filter((f) => (f.className ?? UNLABELLED_CLASS) === c.name).length;
    problems.push(
      had === 0
        ? `class folder ${c.name}/ is empty: add images to it or remove it`
        : `class folder ${c.name}/ has no usable images (none of its ${had} files could be used; see the skipped files)`,
    );
  }
  if (images.length === 0 && classes.length === 0)
    problems.push(
      candidates.length === 0 ? `${root} has no PNG or JPEG images` : `${root} has no usable PNG or JPEG images (see the skipped files)`,
    );

  const conversions: { kind: string; count: number }[] = [];
  for (const kind of CONVERSION_ORDER) {
    const count = images.filter((i) => i.conversions.includes(kind)).length;
    if (count > 0) conversions.push({ kind, count });
  }
  const sizes = new Set(images.map((i) => `${i.width}x${i.height}`));
  if (sizes.size > 1) conversions.push({ kind: `mixed sizes (${sizes.size} different)`, count: images.length });
  const notSquare = images.filter((i) => i.width !== i.height).length;
  if (notSquare > 0) conversions.push({ kind: 'not square: centre-cropped', count: notSquare });
  const shrunk = images.filter((i) => Math.min(i.width, i.height) > options.imageSize).length;
  if (shrunk > 0) conversions.push({ kind: `shrunk to ${options.imageSize}×${options.imageSize}`, count: shrunk });

  return { root, images, skipped, classes, conversions, problems };
}
