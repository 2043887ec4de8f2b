import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE, type Manifest, MissingModelFileError, parseManifest, verifyModelFile } from '@gan/core/manifest';

/** An exported model directory as `gan export` writes it: manifest.json and the files it lists. */
export interface ExportedModel {
  dir: string;
  manifest: Manifest;
  /** manifest.json exactly as it will be uploaded. */
  manifestBytes: Uint8Array;
  /** Every file the manifest lists, by path. */
  files: Map<string, Uint8Array>;
}

/**
 * Reads an exported model and checks every listed file's size and sha256 against its manifest. A
 * directory that is not a complete, self-consistent export throws core's ModelFilesError for what
 * is wrong (InvalidManifestError, MissingModelFileError, ModelFileMismatchError).
 */
export async function readExportedModel(dir: string): Promise<ExportedModel> {
  const readIfPresent = (file: string) =>
    readFile(path.join(dir, file)).then(
      (b) => new Uint8Array(b),
      () => undefined,
    );
  const manifestBytes = await readIfPresent(MANIFEST_FILE);
  if (!manifestBytes) throw new MissingModelFileError(dir, MANIFEST_FILE);
  const manifest = parseManifest(manifestBytes, dir);
  const files = new Map<string, Uint8Array>();
  for (const entry of manifest.files) files.set(entry.path, await verifyModelFile(dir, entry, await readIfPresent(entry.path)));
  return { dir, manifest, manifestBytes, files };
}
