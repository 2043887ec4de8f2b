/**
 * The models this repository ships (models/), put into the worker's R2 as `gan publish` lays them out:
 * workerd cannot read the disk, so the files come through the SHIPPED_MODELS binding
 * (tests/vitest.worker.config.ts), read from models/ when the test runs.
 */
import { env } from 'cloudflare:workers';
import { type Manifest, ManifestSchema } from '@gan/core';
import { registryKeys } from '@gan/registry/layout';
import { expect } from 'vitest';
import { setCurrent } from './fixtures.ts';

/** A file of a shipped export, as it is on disk now. */
export async function shippedFile(model: string, file: string): Promise<ArrayBuffer> {
  const response = await env.SHIPPED_MODELS.fetch(`https://models.invalid/${model}/${file}`);
  expect(response.status, `models/${model}/${file}`).toBe(200);
  return response.arrayBuffer();
}

/** Publishes every file of each shipped model (models/<model>/) and makes it current; returns their manifests by model. */
export async function publishShippedModels(models: string[]): Promise<Map<string, Manifest>> {
  const manifests = new Map<string, Manifest>();
  for (const model of models) {
    const manifestBytes = await shippedFile(model, 'manifest.json');
    const manifest = ManifestSchema.parse(JSON.parse(new TextDecoder().decode(manifestBytes)));
    for (const { path } of manifest.files) {
      await env.MODELS_BUCKET.put(registryKeys.file(manifest.name, manifest.version, path), await shippedFile(model, path));
    }
    await env.MODELS_BUCKET.put(registryKeys.manifest(manifest.name, manifest.version), manifestBytes);
    await setCurrent(env.MODELS_BUCKET, manifest.name, manifest.version);
    manifests.set(model, manifest);
  }
  return manifests;
}
