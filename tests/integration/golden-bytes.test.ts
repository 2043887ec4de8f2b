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
import * as tf from '@tensorflow/tfjs-core';
import { RENDER_VERSION, gridPng, sha256Hex } from '@gan/core';
import { gemmKernelVariant } from '@gan/core/kernels/gemm/index';
import { SUB_PIXEL_CONV } from '@gan/core/kernels/index';
import { selectBackend } from '@gan/trainer/backend';
import { previewLayout } from '@gan/trainer/train/preview';
import { repoRoot, shippedGeneratorDirs } from '../helpers/gan.ts';
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
    const shipped = shippedGeneratorDirs().map((d) => path.basename(d));
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

  it.each(Object.keys(GOLDEN_BYTES.versions))("%s: the export's sample.png is the serving path's preview grid", async (model) => {
    const loaded = await models.get(model);
    const { rows, cols, cells } = previewLayout(loaded.manifest.architecture);
    const shipped = new Uint8Array(await readFile(path.join(repoRoot, 'models', model, 'sample.png')));
    expect(await sha256Of(gridPng(loaded.generator, cells, { rows, cols, padding: 2 }))).toBe(await sha256Of(shipped));
  });
});

/** Placed on wasm by the trainer (trainer/src/backend.ts) and never by the worker. */
const trainerKernelsOnWasm = () =>
  ['BatchMatMul', 'Conv2DBackpropFilter', 'Add', 'Multiply', 'Relu'].filter(
    (name) =>
      gemmKernelVariant(name) !== undefined ||
      (tf.getKernel(name, 'wasm')?.kernelFunc as unknown as Record<symbol, unknown> | undefined)?.[
        Symbol.for('gan-edge.elementwise-kernel')
      ] !== undefined ||
      (tf.getKernel(name, 'wasm')?.kernelFunc as unknown as Record<symbol, unknown> | undefined)?.[Symbol.for('gan-edge.kernel')] !==
        undefined,
  );

describe('gan sample and gan walk render on the serving path whatever backend trains', () => {
  const commandCases = GOLDEN_BYTES.cases.filter((c) => ganArgsOf(c) !== undefined);
  it.each(commandCases.map((c) => [label(c), c] as const))(
    '%s with --backend cpu: the pinned bytes, every kernel on wasm',
    async (_, c) => {
      // As a training process leaves things: the trainer's kernels placed on wasm, the cpu backend active.
      await selectBackend('wasm', { threads: 1 });
      expect(trainerKernelsOnWasm()).not.toEqual([]);
      await selectBackend('cpu');
      const ran: [kernel: string, backend: string][] = [];
      const engine = tf.engine();
      const runKernel = engine.runKernel.bind(engine);
      const spy = vi.spyOn(engine, 'runKernel').mockImplementation((name, inputs, attrs) => {
        ran.push([name, tf.getBackend()]);
        return runKernel(name, inputs, attrs);
      });
      const out = path.join(dir, routeOf(c.request));
      const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const run = await ganInProcess(...ganArgsOf(c)!, '--out', out, '--backend', 'cpu').finally(() => {
        quiet.mockRestore();
        spy.mockRestore();
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/--backend cpu is not used/);
      expect(await sha256Of(new Uint8Array(await readFile(out)))).toBe(c.sha256);
      expect(ran.filter(([name]) => name === SUB_PIXEL_CONV).length).toBeGreaterThan(0);
      expect(new Set(ran.map(([, backend]) => backend))).toEqual(new Set(['wasm']));
      expect(trainerKernelsOnWasm()).toEqual([]);
    },
  );
});
