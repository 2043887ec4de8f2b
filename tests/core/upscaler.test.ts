import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type FastGenerator,
  type Manifest,
  ManifestSchema,
  ModelFileMismatchError,
  gridCells,
  gridPng,
  imagePng,
  loadGenerator,
  morphPng,
  registerWasmKernels,
  sha256Hex,
  walkGif,
  walkKeys,
} from '@gan/core';
import {
  DEFAULT_UPSCALER_WIDTHS,
  attachUpscaler,
  NoUpscalerError,
  Upscaler,
  type UpscalerConfig,
  UpscalerConfigSchema,
  UpscalerWeightsError,
  pixelShuffle,
  upscaleForward,
  upscalerKernelShapes,
  upscalerLayerNames,
  upscalerMultiplyAdds,
  upscalerOf,
} from '@gan/core/upscaler';
import { buildFixture } from '../worker/fixtures.ts';
import {
  PLAIN_BLOBS,
  UPSCALED_FIXTURES,
  UPSCALED_GOLDEN,
  buildUpscaledFixture,
  randomUpscalerWeights,
} from '../worker/upscaler-fixture.ts';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmKernels();
});

const load = (published: { manifest: Manifest; files: Map<string, Uint8Array> }) =>
  loadGenerator(`${published.manifest.name}@${published.manifest.version}`, published.manifest, async (p) => published.files.get(p));
const fixture = async (version: string) => buildUpscaledFixture(UPSCALED_FIXTURES.find((f) => f.version === version)!);

/** depthToSpace's layout written out: out[n, h·r + i, w·r + j, c] = in[n, h, w, (i·r + j)·C + c]. */
function naiveShuffle(x: Float32Array, [n, h, w, d]: number[], r: number): Float32Array {
  const c = d / (r * r);
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let i = 0; i < r; i++)
          for (let j = 0; j < r; j++)
            for (let k = 0; k < c; k++) {
              const src = ((b * h + y) * w + xx) * d + (i * r + j) * c + k;
              const dst = ((b * h * r + y * r + i) * w * r + xx * r + j) * c + k;
              out[dst] = x[src];
            }
  return out;
}

/** Random kernels and biases (σ 0.1, seeded from `seed`) for every convolution of `config`. */
function randomParams(config: UpscalerConfig, seed: number) {
  const shapes = upscalerKernelShapes(config);
  return {
    kernels: shapes.map((s, i) => tf.randomNormal(s, 0, 0.1, 'float32', seed + i) as tf.Tensor4D),
    biases: shapes.map((s, i) => tf.randomNormal([s[3]], 0, 0.1, 'float32', seed + 20 + i) as tf.Tensor1D),
  };
}
describe('pixel shuffle', () => {
  it.each([
    [[2, 3, 5, 48], 4],
    [[1, 4, 2, 12], 2],
    [[1, 1, 1, 16], 4],
  ])('shape %j ×%i: the naive reference and depthToSpace, exactly', (shape, r) => {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i);
    const x = tf.tensor4d(data, shape as [number, number, number, number]);
    const y = pixelShuffle(x, r);
    expect(y.shape).toEqual([shape[0], shape[1] * r, shape[2] * r, shape[3] / (r * r)]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(naiveShuffle(data, shape, r)));
    expect(Array.from(y.dataSync())).toEqual(Array.from(tf.depthToSpace(x, r).dataSync()));
    tf.dispose([x, y]);
  });
});

describe('the network', () => {
  const config = { scale: 4 as const, channels: 3 as const, inputSize: 32, widths: [...DEFAULT_UPSCALER_WIDTHS] };

  it('has the documented work and shapes', () => {
    expect(upscalerKernelShapes(config)).toEqual([
      [3, 3, 3, 32],
      [3, 3, 32, 16],
      [3, 3, 16, 16],
      [3, 3, 16, 48],
    ]);
    expect(upscalerMultiplyAdds(config)).toBe(32 * 32 * 9 * (3 * 32 + 32 * 16 + 16 * 16 + 16 * 48));
  });

  it('with zero weights is the bilinear enlargement: the residual starts at nothing', () => {
    const params = {
      kernels: upscalerKernelShapes(config).map((s) => tf.zeros(s) as tf.Tensor4D),
      biases: upscalerKernelShapes(config).map((s) => tf.zeros([s[3]]) as tf.Tensor1D),
    };
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const y = upscaleForward(config, params, x);
    expect(y.shape).toEqual([2, 128, 128, 3]);
    const bilinear = tf.image.resizeBilinear(x, [128, 128], false, true);
    expect(tf.max(tf.abs(tf.sub(y, bilinear))).dataSync()[0]).toBe(0);
    tf.dispose([...params.kernels, ...params.biases, x, y, bilinear]);
  });

  it('with a refinement: two more convolutions at the 4x size, whose work is counted there', () => {
    const refined = { ...config, refineWidth: 8 };
    expect(upscalerKernelShapes(refined).slice(4)).toEqual([
      [3, 3, 3, 8],
      [3, 3, 8, 3],
    ]);
    expect(upscalerMultiplyAdds(refined) - upscalerMultiplyAdds(config)).toBe(128 * 128 * 9 * (3 * 8 + 8 * 3));
  });

  it('a refinement is up + conv(relu(conv(up − 1))) on the output, and nothing when its last kernel is zero', () => {
    const refined = { ...config, refineWidth: 2 };
    const shapes = upscalerKernelShapes(refined);
    const params = randomParams(refined, 10);
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const plain = upscaleForward(config, { kernels: params.kernels.slice(0, 4), biases: params.biases.slice(0, 4) }, x);
    const y = upscaleForward(refined, params, x);
    // Written out with unfused ops: the refinement reads the enlarged image, white at 0, zero-padded.
    const hidden = tf.relu(
      tf.add(tf.conv2d(tf.sub(plain, 1) as tf.Tensor4D, params.kernels[4], 1, 'same'), params.biases[4]),
    ) as tf.Tensor4D;
    const expected = tf.add(plain, tf.add(tf.conv2d(hidden, params.kernels[5], 1, 'same'), params.biases[5]));
    expect(y.shape).toEqual([2, 128, 128, 3]);
    expect(tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(y, plain))).dataSync()[0]).toBeGreaterThan(0.01);
    const silent = {
      kernels: [...params.kernels.slice(0, 5), tf.zeros(shapes[5]) as tf.Tensor4D],
      biases: [...params.biases.slice(0, 5), tf.zeros([3]) as tf.Tensor1D],
    };
    const unchanged = upscaleForward(refined, silent, x);
    expect(tf.max(tf.abs(tf.sub(unchanged, plain))).dataSync()[0]).toBe(0);
    tf.dispose([
      ...params.kernels,
      ...params.biases,
      ...silent.kernels.slice(5),
      ...silent.biases.slice(5),
      x,
      plain,
      y,
      hidden,
      expected,
      unchanged,
    ]);
  });

  it('with two refinements: each a residual on the one before, named after the first, each counted', () => {
    const twice = { ...config, refineWidth: 2, refineBlocks: 2 };
    const once = { ...config, refineWidth: 2 };
    expect(upscalerLayerNames(twice).slice(4)).toEqual(['up_refine1', 'up_refine2', 'up_refine3', 'up_refine4']);
    expect(upscalerMultiplyAdds(twice) - upscalerMultiplyAdds(once)).toBe(128 * 128 * 9 * (3 * 2 + 2 * 3));
    expect(UpscalerConfigSchema.safeParse({ ...config, refineBlocks: 2 }).success).toBe(false);
    const params = randomParams(twice, 50);
    const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const first = upscaleForward(once, { kernels: params.kernels.slice(0, 6), biases: params.biases.slice(0, 6) }, x);
    const hidden = tf.relu(
      tf.add(tf.conv2d(tf.sub(first, 1) as tf.Tensor4D, params.kernels[6], 1, 'same'), params.biases[6]),
    ) as tf.Tensor4D;
    const expected = tf.add(first, tf.add(tf.conv2d(hidden, params.kernels[7], 1, 'same'), params.biases[7]));
    const y = upscaleForward(twice, params, x);
    expect(tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(y, first))).dataSync()[0]).toBeGreaterThan(0.01);
    tf.dispose([...params.kernels, ...params.biases, x, first, hidden, expected, y]);
  });

  it('a refined upscaler needs its refinement weights', () => {
    const refined = { ...config, refineWidth: 8 };
    const weights: tf.NamedTensorMap = {};
    for (const w of randomUpscalerWeights(config, 'w')) weights[w.name] = tf.tensor(w.data, w.shape);
    expect(() => Upscaler.fromWeights(refined, weights)).toThrow(/up_refine1\/kernel is missing/);
    tf.dispose(Object.values(weights));
  });

  it('refuses weights of the wrong shape, naming the weight', () => {
    const weights: tf.NamedTensorMap = {};
    for (const w of randomUpscalerWeights(config, 'w')) weights[w.name] = tf.tensor(w.data, w.shape);
    weights['up_conv2/kernel'] = tf.zeros([3, 3, 32, 8]);
    expect(() => Upscaler.fromWeights(config, weights)).toThrow(UpscalerWeightsError);
    expect(() => Upscaler.fromWeights(config, weights)).toThrow(/up_conv2\/kernel/);
    tf.dispose(Object.values(weights));
  });
});

describe('the manifest entry', () => {
  it('must list its weights file and fit the generator', async () => {
    const { manifest } = await fixture('x4');
    expect(ManifestSchema.safeParse(manifest).success).toBe(true);
    const unlisted = { ...manifest, files: manifest.files.filter((f) => f.path !== 'upscaler.json') };
    expect(ManifestSchema.safeParse(unlisted).success).toBe(false);
    const wrongSize = {
      ...manifest,
      upscaler: { ...manifest.upscaler!, architecture: { ...manifest.upscaler!.architecture, inputSize: 32 } },
    };
    expect(ManifestSchema.safeParse(wrongSize).success).toBe(false);
  });

  it('a shard that fails its sha256 stops the load', async () => {
    const published = await fixture('x4');
    const files = new Map(published.files);
    const shard = [...files.keys()].find((p) => p.startsWith('upscaler-'))!;
    const bytes = files.get(shard)!.slice();
    bytes[0] ^= 1;
    files.set(shard, bytes);
    await expect(load({ manifest: published.manifest, files })).rejects.toThrow(ModelFileMismatchError);
  });
});

describe('filter=learned in the render pipeline', () => {
  let upscaled: FastGenerator;
  let byDefault: FastGenerator;
  let plain: FastGenerator;
  beforeAll(async () => {
    upscaled = await load(await fixture('x4'));
    byDefault = await load(await fixture('x4-default'));
    plain = await load(await buildFixture(PLAIN_BLOBS));
  });
  const cell = { seed: 'up' };
  const sha = (bytes: Uint8Array) => sha256Hex(bytes as Uint8Array<ArrayBuffer>);

  it('is deterministic, and differs from bilinear above the native size', async () => {
    const a = imagePng(upscaled, cell, { size: 64, filter: 'learned' });
    const b = imagePng(upscaled, cell, { size: 64, filter: 'learned' });
    expect(await sha(a)).toBe(await sha(b));
    expect(await sha(a)).not.toBe(await sha(imagePng(upscaled, cell, { size: 64, filter: 'bilinear' })));
  });

  it('is bilinear at and below the native size', async () => {
    for (const size of [16, 12]) {
      expect(await sha(imagePng(upscaled, cell, { size, filter: 'learned' }))).toBe(
        await sha(imagePng(upscaled, cell, { size, filter: 'bilinear' })),
      );
    }
  });

  it('leaves the other filters and a version without an upscaler as they were', async () => {
    for (const filter of ['bilinear', 'nearest'] as const) {
      expect(await sha(imagePng(upscaled, cell, { size: 40, filter }))).toBe(await sha(imagePng(plain, cell, { size: 40, filter })));
    }
    expect(upscalerOf(plain)).toBeUndefined();
    expect(() => imagePng(plain, cell, { size: 64, filter: 'learned' })).toThrow(NoUpscalerError);
  });

  it('is the default filter only where the manifest says so', async () => {
    expect(await sha(imagePng(byDefault, cell, { size: 64 }))).toBe(await sha(imagePng(upscaled, cell, { size: 64, filter: 'learned' })));
    expect(await sha(imagePng(upscaled, cell, { size: 64 }))).toBe(await sha(imagePng(upscaled, cell, { size: 64, filter: 'bilinear' })));
  });

  it('grids, walks and morphs go through it', async () => {
    const cells = gridCells('g', 2, 2, 0, 'none');
    const layout = { rows: 2, cols: 2, padding: 1 };
    expect(await sha(gridPng(upscaled, cells, layout, { size: 64, filter: 'learned' }))).not.toBe(
      await sha(gridPng(upscaled, cells, layout, { size: 64, filter: 'bilinear' })),
    );
    const keys = walkKeys('w', 2, 0, 'none');
    expect(await sha(walkGif(upscaled, keys, { size: 32, filter: 'learned', frames: 2, fps: 4 }))).not.toBe(
      await sha(walkGif(upscaled, keys, { size: 32, filter: 'bilinear', frames: 2, fps: 4 })),
    );
    expect(await sha(morphPng(upscaled, { seed: 'a' }, { seed: 'b' }, { size: 48, filter: 'learned', steps: 3, padding: 1 }))).not.toBe(
      await sha(morphPng(upscaled, { seed: 'a' }, { seed: 'b' }, { size: 48, filter: 'bilinear', steps: 3, padding: 1 })),
    );
  });

  it('keeps its weights as tensors from its first use, leaks nothing else, and frees them with its generator', async () => {
    const base = tf.memory().numTensors;
    const generator = await load(await fixture('x4'));
    const loaded = tf.memory().numTensors;
    const upscaler = upscalerOf(generator)!;
    const layers = upscalerKernelShapes(upscaler.config).length;
    imagePng(generator, cell, { size: 64, filter: 'learned' });
    expect(tf.memory().numTensors).toBe(loaded + 2 * layers);
    gridPng(generator, gridCells('g', 2, 2, 0, 'none'), { rows: 2, cols: 2, padding: 1 }, { size: 48, filter: 'learned' });
    expect(tf.memory().numTensors).toBe(loaded + 2 * layers);
    // The worker's memory budget counts them from the load on.
    const weightCount = upscalerKernelShapes(upscaler.config).reduce((sum, s) => sum + s[0] * s[1] * s[2] * s[3] + s[3], 0);
    expect(upscaler.byteSize).toBe(4 * weightCount);
    expect(generator.byteSize).toBeGreaterThan(upscaler.byteSize);
    generator.dispose();
    expect(tf.memory().numTensors).toBe(base);
    // Used after that, it keeps nothing: each call's weights go with the call.
    const again = tf.tidy(() => upscaler.upscale(tf.zeros([1, 16, 16, 3])));
    expect(again.shape).toEqual([1, 64, 64, 3]);
    again.dispose();
    expect(tf.memory().numTensors).toBe(base);
  });

  it("keeps its weights even when its first use is inside a caller's tidy, and frees them when replaced", async () => {
    const generator = await load(await fixture('x4'));
    const first = upscalerOf(generator)!;
    const loaded = tf.memory().numTensors;
    const layers = upscalerKernelShapes(first.config).length;
    tf.tidy(() => {
      first.upscale(tf.zeros([1, 16, 16, 3]));
    });
    expect(tf.memory().numTensors).toBe(loaded + 2 * layers);
    const zeros = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    tf.dispose([first.upscale(zeros), zeros]);
    expect(tf.memory().numTensors).toBe(loaded + 2 * layers);
    // Another upscaler attached in its place (gan upscaler evaluate does this): the first one's weights go.
    const weights: tf.NamedTensorMap = {};
    for (const w of randomUpscalerWeights(first.config, 'other')) weights[w.name] = tf.tensor(w.data, w.shape);
    const second = Upscaler.fromWeights(first.config, weights);
    tf.dispose(Object.values(weights));
    const bytes = generator.byteSize;
    attachUpscaler(generator, second, false);
    attachUpscaler(generator, second, false);
    expect(tf.memory().numTensors).toBe(loaded);
    expect(generator.byteSize).toBe(bytes);
    generator.dispose();
  });

  it('renders the pinned bytes (the same table workerd checks)', async () => {
    const byVersion = { x4: upscaled, 'x4-default': byDefault };
    const rendered: [string, string][] = [];
    for (const [path] of UPSCALED_GOLDEN) {
      const url = new URL(path, 'http://x');
      const version = url.pathname.split('/')[3].split('@')[1] as keyof typeof byVersion;
      const q = url.searchParams;
      const size = Number(q.get('size') ?? 16);
      const filter = (q.get('filter') ?? undefined) as 'learned' | undefined;
      const generator = byVersion[version];
      const bytes = url.pathname.endsWith('grid.png')
        ? gridPng(generator, gridCells(q.get('seed')!, 2, 2, 0, 'none'), { rows: 2, cols: 2, padding: 2 }, { size, filter })
        : imagePng(generator, { seed: q.get('seed')! }, { size, filter });
      rendered.push([path, await sha(bytes)]);
    }
    expect(rendered).toEqual(UPSCALED_GOLDEN);
    expect(UPSCALED_GOLDEN.length).toBeGreaterThan(3);
  });
});
