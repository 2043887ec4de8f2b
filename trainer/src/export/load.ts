/**
 * Reading an exported model directory the way the worker does: manifest.json, then model.json and its
 * shards decoded with core's weights.ts, then core's FastGenerator (batch norm folded, sub-pixel
 * convolutions). `gan sample` and the export's own sample grid go through here, so what they show is
 * what the worker serves.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FastGenerator, type Manifest, ManifestSchema, decodeWeights, parseModelJson, sha256Hex } from '@gan/core';
import * as tf from '@tensorflow/tfjs-core';

export class ExportReadError extends Error {
  override name = 'ExportReadError';
}

export interface LoadedGenerator {
  manifest: Manifest;
  generator: FastGenerator;
}

/** Builds the serving generator from in-memory export files (file name → bytes). */
export async function generatorFromFiles(manifest: Manifest, read: (file: string) => Promise<Uint8Array>): Promise<FastGenerator> {
  const modelJson = parseModelJson(new TextDecoder().decode(await read('model.json')));
  const weights = await decodeWeights(modelJson, async (p) => {
    const bytes = await read(p);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  });
  try {
    return FastGenerator.fromWeights(manifest.architecture, weights);
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** Loads an exported model directory, checking each file against the manifest's sha256. */
export async function loadExportedGenerator(dir: string): Promise<LoadedGenerator> {
  let manifest: Manifest;
  try {
    manifest = ManifestSchema.parse(JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')));
  } catch (err) {
    throw new ExportReadError(`${dir} has no valid manifest.json (${err instanceof Error ? err.message.split('\n')[0] : err})`);
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const read = async (file: string) => {
    const entry = listed.get(file);
    if (!entry) throw new ExportReadError(`${file} is not listed in ${dir}/manifest.json`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path.join(dir, file)));
    } catch {
      throw new ExportReadError(`${dir}/${file} is missing`);
    }
    if ((await sha256Hex(bytes as Uint8Array<ArrayBuffer>)) !== entry.sha256) throw new ExportReadError(`${dir}/${file} does not match its sha256 in the manifest`);
    return bytes;
  };
  return { manifest, generator: await generatorFromFiles(manifest, read) };
}
