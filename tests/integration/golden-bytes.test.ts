/**
 * The shipped models' pinned bytes (tests/fixtures/golden-bytes.json, see tests/helpers/golden-bytes.ts)
 * in Node: core's render pipeline, and `gan sample` / `gan walk` as a user runs them. The same table
 * is checked inside workerd by tests/worker/golden-bytes.test.ts, so the command line and the worker
 * agree on every route, and neither may drift from what caches already hold.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RENDER_VERSION, sha256Hex } from '@gan/core';
import { findExportDirs } from '@gan/registry';
import { repoRoot } from '../helpers/gan.ts';
import { GOLDEN_BYTES, GOLDEN_ROUTES, routeOf } from '../helpers/golden-bytes.ts';
import { ShippedModels, ganArgsOf, renderGolden, useRenderBackend } from '../helpers/golden-bytes-node.ts';
import { ganInProcess } from '../trainer/gan-in-process.ts';

const models = new ShippedModels();
let dir: string;

beforeAll(async () => {
  await useRenderBackend();
  dir = await mkdtemp(path.join(tmpdir(), 'golden-bytes-'));
});

afterAll(async () => {
  models.dispose();
  await rm(dir, { recursive: true, force: true });
});

const sha256Of = (bytes: Uint8Array) => sha256Hex(bytes as Uint8Array<ArrayBuffer>);
const label = (c: { model: string; request: string }) => `${c.model}/${c.request}`;

describe('golden bytes of the shipped models', () => {
  it('pin every shipped model at the version it ships, on every route', async () => {
    const shipped = findExportDirs(path.join(repoRoot, 'models')).map((d) => path.basename(d));
    expect(Object.keys(GOLDEN_BYTES.versions).sort()).toEqual(shipped.sort());
    for (const model of shipped) {
      const { manifest } = await models.get(model);
      // A re-export under a new version needs new entries (the script in tests/helpers fills them);
      // the same version must keep its bytes.
      expect(GOLDEN_BYTES.versions[model], `${model}: tests/fixtures/golden-bytes.json pins another version`).toBe(manifest.version);
      const routes = new Set(GOLDEN_BYTES.cases.filter((c) => c.model === model).map((c) => routeOf(c.request)));
      expect([...routes].sort()).toEqual([...GOLDEN_ROUTES].sort());
    }
    for (const c of GOLDEN_BYTES.cases) expect(c.sha256, label(c)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('were recorded under the current render version, which CHANGELOG.md names', async () => {
    expect(GOLDEN_BYTES.renderVersion).toBe(RENDER_VERSION);
    const changelog = await readFile(path.join(repoRoot, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain(`Render version ${RENDER_VERSION}`);
  });

  it.each(GOLDEN_BYTES.cases.map((c) => [label(c), c] as const))('%s: core renders the pinned bytes', async (_, c) => {
    expect(await sha256Of(renderGolden(await models.get(c.model), c))).toBe(c.sha256);
  });

  const commandCases = GOLDEN_BYTES.cases.filter((c) => ganArgsOf(c) !== undefined);
  it.each(commandCases.map((c) => [label(c), c] as const))('%s: gan sample / gan walk write the pinned bytes', async (_, c) => {
    const out = path.join(dir, routeOf(c.request));
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const run = await ganInProcess(...ganArgsOf(c)!, '--out', out, '--backend', 'wasm').finally(() => quiet.mockRestore());
    expect(run.code, run.stderr).toBe(0);
    expect(await sha256Of(new Uint8Array(await readFile(out)))).toBe(c.sha256);
  });
});
