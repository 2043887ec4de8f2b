/**
 * Writes that readers see whole or not at all: the bytes go to a temporary name beside the target and
 * are renamed into place, so a crash leaves the old file (or directory) or the new one, never part of
 * one. Temporary names start with `.tmp` (directories) or end with `.tmp` (files), which is how
 * `gan checkpoint push` knows to skip them; the process id keeps two writers apart.
 */
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** fsync the bytes before the rename, so a power loss cannot leave the new name over empty data. */
  durable?: boolean;
}

async function writeBytes(file: string, bytes: Uint8Array | string, durable: boolean): Promise<void> {
  if (!durable) return writeFile(file, bytes);
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `bytes` atomically; its directory must exist. */
export async function writeFileAtomically(file: string, bytes: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await writeBytes(tmp, bytes, options.durable ?? false);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Replaces the directory `dir` with one holding exactly `files` (name → bytes, written in order): they
 * are assembled in a temporary directory beside it, the old directory is removed and the new one
 * renamed into place.
 */
export async function writeDirectoryAtomically(
  dir: string,
  files: Iterable<readonly [string, Uint8Array | string]>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = path.join(path.dirname(dir), `.tmp-${path.basename(dir)}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, bytes] of files) await writeBytes(path.join(tmp, name), bytes, options.durable ?? false);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
