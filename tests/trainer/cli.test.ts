/**
 * The `gan` binary as a user runs it (a real Node process through bin/gan.js): exit codes and
 * messages, a run killed mid-training and resumed, ^C, and export → sample through the serving path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { decode as decodePng } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FastGenerator,
  ManifestSchema,
  decodeWeights,
  encodePng,
  generatorInput,
  gridPng,
  latentFromSeed,
  parseModelJson,
  toPixels,
} from '@gan/core';
import { selectBackend } from '@gan/trainer/backend';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { SERVING_PATH, activateServingBackend } from '@gan/trainer/serving-backend';
import { previewLayout } from '@gan/trainer/train/preview';
import { loadLatestCheckpoint } from '@gan/trainer/train/checkpoint';
import { readMetrics } from '@gan/trainer/train/metrics';
import { exportDirsBucket } from '../helpers/fixtures.ts';
import { repoRoot as repo, runGan, runRender, startGan } from '../helpers/gan.ts';

const env = { GAN_CACHE_DIR: path.join(os.tmpdir(), 'gan-test-cache'), CI: '1' };
let root: string;

const start = (args: string[]) => startGan(args, env);
const gan = (...args: string[]) => runGan(args, env);
/** `gan sample …args --out <out> --backend <backend>`. */
const sample = (args: string[], out: string, backend = 'wasm') => runRender('sample', args, out, { backend, env });

const TINY = [
  '--data',
  'mnist',
  '--image-size',
  '16',
  '--batch-size',
  '8',
  '--latent-size',
  '8',
  '--generator-width',
  '4',
  '--discriminator-width',
  '4',
  '--seed',
  'cli',
];

async function waitFor(condition: () => boolean, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metricLines = (dir: string) => {
  const file = path.join(dir, 'metrics.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.endsWith('}')).length
    : 0;
};

/** The latest checkpoints of two runs hold the same weights, to float tolerance. */
async function expectSameWeights(runA: string, runB: string) {
  const a = (await loadLatestCheckpoint(runA)).checkpoint!;
  const b = (await loadLatestCheckpoint(runB)).checkpoint!;
  for (const [name, t] of a.tensors) {
    const other = b.tensors.get(name)!.data;
    let max = 0;
    for (let i = 0; i < t.data.length; i++) max = Math.max(max, Math.abs(t.data[i] - other[i]));
    expect(max, name).toBeLessThan(1e-5);
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gan-cli-'));
  await selectBackend('wasm');
});

describe('usage and exit codes', () => {
  it('--help lists the subcommands and exits 0', async () => {
    const r = await gan('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/train[\s\S]*sample[\s\S]*export/);
    const train = await gan('train', '--help');
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/--data <spec>[\s\S]*--resume[\s\S]*--dry-run/);
  });

  it.each([
    [['train', '--data', 'mnist', '--batch-size', 'many'], '--batch-size'],
    [['train', '--data', 'cifar'], '--data'],
    [['train', '--data', 'mnist', '--image-size', '48'], '--image-size'],
    [['train', '--data', 'mnist', '--steps', '2', '--epochs', '1'], '--steps'],
    [['train', '--data', 'mnist', '--backend', 'cuda'], '--backend'],
    [['train', '--data', 'mnist', '--threads', '0'], '--threads'],
    [['train', '--steps', '2'], '--data'],
    [['export', '--run', 'runs/x'], '--out'],
    [['sample', '--model', 'x', '--out', 'x.png', '--truncation', '2'], '--truncation'],
    [['train', '--data', 'mnist', '--no-such-flag'], '--no-such-flag'],
  ])('%j exits 2 naming %s', async (args, flag) => {
    const r = await gan(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 1 with a plain message when the work fails', async () => {
    const r = await sample(['--model', path.join(root, 'missing'), '--seed', 'a'], path.join(root, 'x.png'), 'cpu');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*manifest\.json/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--dry-run runs one batch, prints the losses and writes nothing', async () => {
    const out = path.join(root, 'dry');
    const r = await gan('train', ...TINY, '--backend', 'wasm', '--dry-run', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend: wasm/);
    expect(r.stdout).toMatch(/dry run: one batch of 8 .* d_loss=\d/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('threads', () => {
  it('training on two WASM threads gives the weights of one thread, and the process still exits by itself', async () => {
    // Wide enough layers that XNNPACK splits the work between the threads.
    const wider = [...TINY, '--generator-width', '32', '--discriminator-width', '32', '--steps', '3', '--backend', 'wasm'];
    const one = path.join(root, 'one-thread');
    const two = path.join(root, 'two-threads');
    const r1 = await gan('train', ...wider, '--threads', '1', '--out', one);
    const r2 = await gan('train', ...wider, '--threads', '2', '--out', two);
    expect(r1.stdout).toMatch(/backend: wasm \(1 thread\)/);
    expect(r2.stdout).toMatch(/backend: wasm \(2 threads\)/);
    expect([r1.code, r2.code]).toEqual([0, 0]);
    expect((await loadLatestCheckpoint(two)).checkpoint!.state.step).toBe(3);
    await expectSameWeights(one, two);
  });
});

describe('interrupted runs', () => {
  it('a run killed mid-training resumes to the same weights as an uninterrupted one, losing no step', async () => {
    const reference = path.join(root, 'reference');
    expect((await gan('train', ...TINY, '--backend', 'wasm', '--steps', '5', '--out', reference)).code).toBe(0);

    const killed = path.join(root, 'killed');
    const run = start(['train', ...TINY, '--backend', 'wasm', '--steps', '1000', '--checkpoint-every', '1', '--out', killed]);
    await waitFor(() => metricLines(killed) >= 3);
    run.child.kill('SIGKILL');
    expect((await run.done).code).toBe(null);

    const resumed = await gan('train', '--resume', '--steps', '5', '--backend', 'wasm', '--out', killed);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resuming .* from step \d/);
    const steps = (await readMetrics(path.join(killed, 'metrics.jsonl'))).map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    expect((await loadLatestCheckpoint(killed)).checkpoint!.state.step).toBe(5);
    await expectSameWeights(reference, killed);
  });

  it('^C stops after the current step, writes a checkpoint and exits 130', async () => {
    const dir = path.join(root, 'interrupted');
    const run = start(['train', ...TINY, '--backend', 'wasm', '--steps', '1000', '--checkpoint-every', '500', '--out', dir]);
    await waitFor(() => metricLines(dir) >= 2);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/continue with --resume/);
    const { checkpoint } = await loadLatestCheckpoint(dir);
    expect(checkpoint!.state.step).toBe(metricLines(dir));
  });
});

describe('export and sample', () => {
  let run: string;
  let exported: string;

  beforeAll(async () => {
    run = path.join(root, 'to-export');
    expect((await gan('train', ...TINY, '--backend', 'wasm', '--steps', '3', '--out', run)).code).toBe(0);
    exported = path.join(root, 'export');
    const r = await gan('export', '--run', run, '--out', exported, '--name', 'digits', '--shard-bytes', '4096', '--backend', 'wasm');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('writes a valid manifest listing every file with its sha256, a model card and a sample grid', async () => {
    const manifest = ManifestSchema.parse(JSON.parse(await readFile(path.join(exported, 'manifest.json'), 'utf8')));
    expect(manifest.name).toBe('digits');
    expect(manifest.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(manifest.architecture).toMatchObject({ imageSize: 16, channels: 1, latentSize: 8, numClasses: 10 });
    expect(manifest.training).toMatchObject({ steps: 3, batchSize: 8, backend: 'wasm', seed: 'cli' });
    expect(manifest.dataset).toMatchObject({ name: 'mnist', licence: 'MIT' });
    const paths = manifest.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['model.json', 'README.md', 'sample.png']));
    expect(paths.filter((p) => /^group1-shard\dof\d\.bin$/.test(p)).length).toBeGreaterThan(1); // 4 KiB shards
    const { sha256Hex } = await import('@gan/core');
    for (const f of manifest.files) {
      const bytes = new Uint8Array(await readFile(path.join(exported, f.path)));
      expect(bytes.byteLength).toBe(f.bytes);
      expect(await sha256Hex(bytes as Uint8Array<ArrayBuffer>)).toBe(f.sha256);
    }
    const card = await readFile(path.join(exported, 'README.md'), 'utf8');
    expect(card).toMatch(/!\[.*\]\(sample\.png\)/);
    expect(card).toMatch(/MNIST/);
    const grid = decodePng(await readFile(path.join(exported, 'sample.png')));
    expect(grid.width).toBe(8 * 16 + 9 * 2);
  });

  /** The serving path, by hand: core's decodeWeights over the exported files, then FastGenerator. */
  async function servingGenerator(dir: string) {
    const manifest = ManifestSchema.parse(JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')));
    const modelJson = parseModelJson(await readFile(path.join(dir, 'model.json'), 'utf8'));
    const weights = await decodeWeights(modelJson, async (p) => {
      const b = await readFile(path.join(dir, p));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    });
    return { manifest, modelJson, weights, generator: FastGenerator.fromWeights(manifest.architecture, weights) };
  }

  it('gan sample writes the same PNG bytes as the serving path for the same seeds', async () => {
    const { manifest, generator, weights } = await servingGenerator(exported);
    for (const [seed, cls] of [
      ['alice', '3'],
      ['bob', '7'],
      ['zoë 🦊', '0'],
    ]) {
      const out = path.join(root, `${seed}.png`);
      const r = await sample(['--model', exported, '--seed', seed, '--class', cls], out);
      expect(r.code).toBe(0);
      const input = generatorInput(manifest.architecture, [latentFromSeed(seed, manifest.latentSize)], [Number(cls)]);
      const images = generator.forward(input);
      const pixels = toPixels(images);
      tf.dispose([input, images]);
      const expected = encodePng(pixels.size, pixels.size, pixels.channels, pixels.data);
      expect(Buffer.from(await readFile(out)).equals(Buffer.from(expected)), seed).toBe(true);
    }
    // Without --class, a conditional model's class follows the worker's rule (drawn from the seed).
    const { classForSeed } = await import('@gan/core');
    const free = path.join(root, 'free.png');
    expect((await sample(['--model', exported, '--seed', 'carol'], free)).code).toBe(0);
    const input = generatorInput(manifest.architecture, [latentFromSeed('carol', 8)], [classForSeed('carol', 10)]);
    const images = generator.forward(input);
    const pixels = toPixels(images);
    tf.dispose([input, images]);
    expect(Buffer.from(await readFile(free)).equals(Buffer.from(encodePng(pixels.size, pixels.size, pixels.channels, pixels.data)))).toBe(
      true,
    );
    // A larger size.
    const big = path.join(root, 'big.png');
    expect((await sample(['--model', exported, '--seed', 'alice', '--class', '3', '--size', '64'], big)).code).toBe(0);
    expect(decodePng(await readFile(big)).width).toBe(64);
    // An empty seed is refused as the worker refuses seed= (1 to 128 characters), and nothing is written.
    const empty = await sample(['--model', exported, '--seed', '', '--class', '0'], path.join(root, 'empty.png'));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--seed.*1 to 128 characters/);
    expect(existsSync(path.join(root, 'empty.png'))).toBe(false);
    generator.dispose();
    tf.dispose(Object.values(weights));
  });

  it('gan export renders its sample grid on the serving path, whatever --backend says', async () => {
    const viaCpu = path.join(root, 'export-cpu');
    const r = await gan('export', '--run', run, '--out', viaCpu, '--name', 'digits', '--backend', 'cpu');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--backend cpu is not used/);
    expect(r.stdout).toContain(`backend: ${SERVING_PATH}`);
    await activateServingBackend();
    const { manifest, generator } = await loadExportedGenerator(viaCpu);
    const { rows, cols, cells } = previewLayout(manifest.architecture);
    const expected = gridPng(generator, cells, { rows, cols, padding: 2 });
    generator.dispose();
    expect(Buffer.from(await readFile(path.join(viaCpu, 'sample.png'))).equals(Buffer.from(expected))).toBe(true);
  });

  it('the exported generator equals the trained one, and model.json loads as a tfjs layers model', async () => {
    const { manifest, modelJson, weights, generator } = await servingGenerator(exported);
    const { checkpoint } = await loadLatestCheckpoint(run);
    for (const [name, t] of Object.entries(weights)) {
      expect(Array.from(t.dataSync()), name).toEqual(Array.from(checkpoint!.tensors.get(`generator/${name}`)!.data));
    }
    const shards = modelJson.weightsManifest[0].paths.map((p) => readFileSync(path.join(exported, p)));
    const joined = Buffer.concat(shards);
    const layers = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology as object,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
      }),
    );
    const input = generatorInput(
      manifest.architecture,
      ['a', 'b'].map((s) => latentFromSeed(s, 8)),
      [1, 2],
    );
    const viaLayers = layers.predict(input) as tf.Tensor;
    const viaServing = generator.forward(input);
    expect(tf.max(tf.abs(tf.sub(viaLayers, viaServing))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([input, viaLayers, viaServing, ...Object.values(weights)]);
    layers.dispose();
    generator.dispose();
  });

  it('--float16 halves the weights and stays within half precision of float32', async () => {
    const half = path.join(root, 'export16');
    expect((await gan('export', '--run', run, '--out', half, '--float16', '--backend', 'wasm')).code).toBe(0);
    const a = await servingGenerator(exported);
    const b = await servingGenerator(half);
    expect(b.manifest.weightsFormat).toBe('float16');
    expect(b.manifest.name).toBe('mnist'); // default name: the data set
    const bytes = (m: typeof a.manifest) => m.files.filter((f) => f.path.endsWith('.bin')).reduce((s, f) => s + f.bytes, 0);
    expect(bytes(b.manifest)).toBe(bytes(a.manifest) / 2);
    const input = generatorInput(a.manifest.architecture, [latentFromSeed('x', 8)], [4]);
    const [ya, yb] = [a.generator.forward(input), b.generator.forward(input)];
    expect(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]).toBeLessThan(0.02);
    tf.dispose([input, ya, yb, ...Object.values(a.weights), ...Object.values(b.weights)]);
    a.generator.dispose();
    b.generator.dispose();
  });

  it("gives the worker's pinned bytes for the worker's fixture models, float32, float16 and class-conditional batch norm (golden PNG hashes)", async () => {
    const { publishFixture, publishStandardFixtures } = await import('../worker/fixtures.ts');
    const { CLASS_BATCH_NORM_FIXTURE, FLOAT16_FIXTURE, GOLDEN, GOLDEN_CLASS_BATCH_NORM, GOLDEN_FLOAT16 } = await import(
      '../worker/golden.ts'
    );
    const { sha256Hex } = await import('@gan/core');
    // The fixtures' files, laid out as an export directory per model.
    const bucketDir = path.join(root, 'fixtures');
    const exportDirs = exportDirsBucket(bucketDir);
    await publishStandardFixtures(exportDirs);
    await publishFixture(exportDirs, FLOAT16_FIXTURE);
    await publishFixture(exportDirs, CLASS_BATCH_NORM_FIXTURE);
    const float16Dir = path.join(bucketDir, `${FLOAT16_FIXTURE.name}@${FLOAT16_FIXTURE.version}`);
    const classBatchNormDir = path.join(bucketDir, `${CLASS_BATCH_NORM_FIXTURE.name}@${CLASS_BATCH_NORM_FIXTURE.version}`);
    const cases: [string, string[]][] = [
      [
        '/v1/models/digits/image.png?seed=golden&class=two',
        ['--model', path.join(bucketDir, 'digits@v1'), '--seed', 'golden', '--class', 'two'],
      ],
      [
        '/v1/models/blobs/image.png?seed=golden&size=50&truncation=0.7',
        ['--model', path.join(bucketDir, 'blobs@v1'), '--seed', 'golden', '--size', '50', '--truncation', '0.7'],
      ],
      // What ships: float16 weights.
      ['/v1/models/digits16/image.png?seed=golden&class=one', ['--model', float16Dir, '--seed', 'golden', '--class', 'one']],
      [
        '/v1/models/digits16/image.png?seed=golden&size=40&truncation=0.8&filter=nearest',
        ['--model', float16Dir, '--seed', 'golden', '--size', '40', '--truncation', '0.8', '--filter', 'nearest'],
      ],
      // Class-conditional batch norm.
      ['/v1/models/digitscbn/image.png?seed=golden&class=one', ['--model', classBatchNormDir, '--seed', 'golden', '--class', 'one']],
    ];
    expect(JSON.parse(await readFile(path.join(float16Dir, 'manifest.json'), 'utf8')).weightsFormat).toBe('float16');
    for (const [request, args] of cases) {
      const golden = [...GOLDEN, ...GOLDEN_FLOAT16, ...GOLDEN_CLASS_BATCH_NORM].find(([p]) => p === request)![1];
      const out = path.join(root, 'golden.png');
      const r = await sample(args, out);
      expect(r.code, r.stderr).toBe(0);
      expect(await sha256Hex(new Uint8Array(await readFile(out)) as Uint8Array<ArrayBuffer>), request).toBe(golden);
    }
  });

  it('refuses to overwrite a directory that is not an export', async () => {
    const r = await gan('export', '--run', run, '--out', path.join(repo, 'trainer'), '--backend', 'cpu');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not an earlier export/);
  });
});
