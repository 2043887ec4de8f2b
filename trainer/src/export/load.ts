/**
 * The trainer's one reader of an exported model directory: the registry's `readExportedModel` (the
 * manifest and every file it lists, verified by size and sha256, as `gan publish` reads it), then
 * core's `loadGenerator`, the code the worker builds its generator with. `gan sample`, `gan walk`,
 * the evaluation and the export's own sample grid go through here, so what they show is what the
 * worker serves. A directory that is not a whole export throws core's ModelFilesError.
 */
import { type FastGenerator, type Manifest, type ModelFileSource, loadGenerator } from '@gan/core';
import { readExportedModel } from '@gan/registry';

export interface LoadedGenerator {
  manifest: Manifest;
  generator: FastGenerator;
}

/** Builds the serving generator from export files (file name → bytes), verified against the manifest. */
export function generatorFromFiles(manifest: Manifest, read: ModelFileSource): Promise<FastGenerator> {
  return loadGenerator(`${manifest.name}@${manifest.version}`, manifest, read);
}

/** Loads an exported model directory, checking each file against the manifest's size and sha256. */
export async function loadExportedGenerator(dir: string): Promise<LoadedGenerator> {
  const { manifest, files } = await readExportedModel(dir);
  return { manifest, generator: await loadGenerator(dir, manifest, async (file) => files.get(file)) };
}
