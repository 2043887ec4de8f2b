import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Manifest, ManifestSchema, sha256Hex } from '@gan/core/manifest';

/** An exported model directory as `gan export` writes it: manifest.json and the files it lists. */
export interface ExportedModel {
  dir: string;
  manifest: Manifest;
  /** manifest.json exactly as it will be uploaded. */
  manifestBytes: Uint8Array;
  /** Every file the manifest lists, by path. */
  files: Map<string, Uint8Array>;
}

/** The directory is not a complete, self-consistent export. */
export class ExportIntegrityError extends Error {
  override name = 'ExportIntegrityError';
}

/** Reads an exported model and checks every listed file's size and sha256 against its manifest. */
export async function readExportedModel(dir: string): Promise<ExportedModel> {
  const manifestPath = path.join(dir, 'manifest.json');
  let manifestBytes: Uint8Array;
  try {
    manifestBytes = new Uint8Array(await readFile(manifestPath));
  } catch {
    throw new ExportIntegrityError(`${manifestPath} is missing: is ${dir} a directory written by gan export?`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch {
    throw new ExportIntegrityError(`${manifestPath} is not JSON`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ExportIntegrityError(`${manifestPath} is not a valid manifest: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const manifest = parsed.data;
  const files = new Map<string, Uint8Array>();
  for (const entry of manifest.files) {
    if (entry.path === 'manifest.json') throw new ExportIntegrityError('the manifest must not list itself');
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path.join(dir, entry.path)));
    } catch {
      throw new ExportIntegrityError(`${entry.path} is listed in the manifest but missing from ${dir}`);
    }
    if (bytes.byteLength !== entry.bytes || (await sha256Hex(bytes as Uint8Array<ArrayBuffer>)) !== entry.sha256) {
      throw new ExportIntegrityError(`${entry.path} in ${dir} does not match its size or sha256 in the manifest`);
    }
    files.set(entry.path, bytes);
  }
  return { dir, manifest, manifestBytes, files };
}
