import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ScorerArchitecture, encodeScorerFiles, samplerOf, sha256Hex } from '@gan/core';
import { readExportedModel } from '@gan/registry';
import { DeriveError, deriveVersion } from '@gan/trainer/derive/derive';
import { scorerAddition } from '@gan/trainer/derive/scorer-addition';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { writeScorerDirectory } from '@gan/trainer/sampler/scorer-files';
import { activateServingBackend } from '@gan/trainer/serving-backend';
import { writeFixtureExport } from '../helpers/fixtures.ts';
import { DIGITS_CLASSES, DIGITS_CONFIG } from '../worker/fixtures.ts';
import { randomScorerWeights } from '../worker/sampler-fixture.ts';

let root: string;
let source: string;

/** A scorer directory as gan train-scorer writes it, trained (as it says) against `model`. */
async function scorerDir(model: { name: string; version: string }, numClasses = 3): Promise<string> {
  const a: ScorerArchitecture = { imageSize: 16, channels: 1, width: 2, numClasses };
  const dir = path.join(root, `scorer-${model.version}-${numClasses}`);
  await writeScorerDirectory(dir, encodeScorerFiles(a, { model, steps: 10, seconds: 1 }, randomScorerWeights(a, 'derive')));
  return dir;
}

beforeAll(async () => {
  await activateServingBackend();
  root = await mkdtemp(path.join(tmpdir(), 'derive-'));
  source = await writeFixtureExport(root, { name: 'digits', version: 'v1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES });
});

describe('gan derive --scorer', () => {
  it('writes a new version: the same generator files, the scorer listed with sha256, sampling K, a card section; the source is untouched', async () => {
    const before = await readdir(source);
    const sourceManifest = await readFile(path.join(source, 'manifest.json'));
    const old = await readExportedModel(source);
    const addition = await scorerAddition(old.manifest, await scorerDir(old.manifest), 4, 'gan derive (test)');
    const out = path.join(root, 'derived');
    const result = await deriveVersion({ model: source, out, additions: [addition], now: new Date('2026-12-06T19:00:00Z') });

    const derived = await readExportedModel(out); // every file checked against the new manifest
    expect(derived.manifest.version).not.toBe(old.manifest.version);
    expect(derived.manifest.version).toMatch(/^20261206t190000z-[0-9a-f]{8}$/);
    expect(derived.manifest.sampling?.candidates).toBe(4);
    for (const file of ['model.json', ...old.manifest.files.map((f) => f.path).filter((p) => p.endsWith('.bin'))])
      expect(derived.files.get(file)).toEqual(old.files.get(file));
    for (const file of ['scorer.json', 'scorer.bin']) {
      const entry = derived.manifest.files.find((f) => f.path === file)!;
      expect(entry.sha256).toBe(await sha256Hex(derived.files.get(file) as Uint8Array<ArrayBuffer>));
    }
    const card = new TextDecoder().decode(derived.files.get('README.md'));
    expect(card.split('\n')[0]).toBe(`# digits — ${result.manifest.version}`);
    expect(card).toContain('## Sampling');
    expect(card).toContain('gan derive (test)');
    // Loaded as any export is, the new version samples; the source still does not.
    const loaded = await loadExportedGenerator(out);
    expect(samplerOf(loaded.generator)?.candidates).toBe(4);
    const plain = await loadExportedGenerator(source);
    expect(samplerOf(plain.generator)).toBeUndefined();
    loaded.generator.dispose();
    plain.generator.dispose();
    expect(await readdir(source)).toEqual(before);
    expect(await readFile(path.join(source, 'manifest.json'))).toEqual(sourceManifest);
  });

  it('two derivations with another K get other version names, even in the same second', async () => {
    const old = await readExportedModel(source);
    const scorer = await scorerDir(old.manifest);
    const now = new Date('2026-12-06T19:00:00Z');
    const names = [];
    for (const k of [2, 3]) {
      const addition = await scorerAddition(old.manifest, scorer, k, 'test');
      names.push((await deriveVersion({ model: source, out: path.join(root, `k${k}`), additions: [addition], now })).manifest.version);
    }
    expect(names[0]).not.toBe(names[1]);
  });

  it('refuses a scorer trained against another version, or for other classes', async () => {
    const old = await readExportedModel(source);
    await expect(scorerAddition(old.manifest, await scorerDir({ name: 'digits', version: 'v0' }), 4, 'test')).rejects.toThrow(DeriveError);
    await expect(scorerAddition(old.manifest, await scorerDir(old.manifest, 2), 4, 'test')).rejects.toThrow(DeriveError);
  });
});
