/**
 * Fills tests/fixtures/golden-bytes.json: the sha256 of every case whose model ships a version other
 * than the one pinned (a new model version: new bytes are expected), or that has none yet. A pinned
 * version whose bytes now differ is refused: that is the break the fixture exists to catch, unless
 * core's RENDER_VERSION was bumped past the fixture's (a deliberate render change, a security fix,
 * with a CHANGELOG.md entry: core/src/render-version.ts).
 *
 *   node --import tsx tests/helpers/regenerate-golden-bytes.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RENDER_VERSION, sha256Hex } from '@gan/core';
import { repoRoot } from './gan.ts';
import type { GoldenBytes } from './golden-bytes.ts';
import { ShippedModels, renderGolden, useRenderBackend } from './golden-bytes-node.ts';

const file = path.join(repoRoot, 'tests/fixtures/golden-bytes.json');
const golden = JSON.parse(await readFile(file, 'utf8')) as GoldenBytes;
const renderChanged = RENDER_VERSION > golden.renderVersion;
await useRenderBackend();
const models = new ShippedModels();
const refused: string[] = [];
for (const c of golden.cases) {
  const loaded = await models.get(c.model);
  const newVersion = golden.versions[c.model] !== loaded.manifest.version;
  const sha256 = await sha256Hex(renderGolden(loaded, c) as Uint8Array<ArrayBuffer>);
  if (sha256 === c.sha256) continue;
  if (c.sha256 && !newVersion && !renderChanged) {
    refused.push(`${c.model}@${loaded.manifest.version}/${c.request}: pinned ${c.sha256}, renders ${sha256}`);
    continue;
  }
  console.log(`${c.model}/${c.request}: ${sha256}`);
  c.sha256 = sha256;
}
for (const c of golden.cases) golden.versions[c.model] = (await models.get(c.model)).manifest.version;
models.dispose();
golden.renderVersion = RENDER_VERSION;
if (refused.length > 0) {
  console.error(`the bytes of pinned versions changed (not written; see the script's header):\n${refused.join('\n')}`);
  process.exit(1);
}
await writeFile(file, `${JSON.stringify(golden, null, 2)}\n`);
console.log(`wrote ${path.relative(repoRoot, file)}`);
