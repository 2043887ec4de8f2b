/**
 * The WASM convolution kernels of core/src/kernels against the pure-JS (cpu) backend: filter and input
 * gradients on random shapes (the DCGAN's and others), a whole tiny DCGAN step's gradients, the
 * fallback to the original kernel, and that nothing leaks (tensors or backend data).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, FastGenerator } from '@gan/core';
import { DerivedCache, axisPhases, registerWasmKernels, restoreWasmKernels, stridedTap } from '@gan/core/kernels/index';
import { stridedPhaseTaps } from '@gan/core/kernels/gemm/index';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { on, values } from './backend-compare.ts';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmKernels();
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

function expectClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-5) {
  expect(actual.length).toBe(expected.length);
  if (tolerance === 0) return expect(Array.from(actual)).toEqual(Array.from(expected));
  const scale = Math.max(1, ...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst / scale).toBeLessThan(tolerance);
}

// [input shape, filter shape, strides, pad]: the DCGAN's layers first, then other layouts.
const cases: [string, Shape4, Shape4, number | [number, number], Pad][] = [
  ['4x4 s2 same (D down, G up)', [2, 8, 8, 3], [4, 4, 3, 5], 2, 'same'],
  ['4x4 s2 same, wide', [3, 4, 4, 16], [4, 4, 16, 8], 2, 'same'],
  ['4x4 s1 valid to 1x1 (D score, G project)', [3, 4, 4, 6], [4, 4, 6, 5], 1, 'valid'],
  ['4x4 s1 valid on 6x7', [2, 6, 7, 3], [4, 4, 3, 2], 1, 'valid'],
  ['3x3 s1 same', [2, 5, 6, 4], [3, 3, 4, 3], 1, 'same'],
  ['3x3 s2 valid, odd sizes', [2, 9, 7, 2], [3, 3, 2, 3], 2, 'valid'],
  ['4x4 s2 same, odd sizes', [1, 7, 5, 3], [4, 4, 3, 2], 2, 'same'],
  [
    'explicit pads, s2',
    [2, 8, 6, 3],
    [4, 4, 3, 4],
    2,
    [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  ],
  ['strides 2x1, 5x3 filter', [2, 9, 6, 2], [5, 3, 2, 3], [2, 1], 'same'],
  ['stride 3, 2x2 filter (phases without taps)', [1, 9, 9, 2], [2, 2, 2, 3], 3, 'valid'],
  ['1x1 s2', [2, 6, 6, 3], [1, 1, 3, 4], 2, 'same'],
  // Over 64 taps·channels: the filter gradient's dilated-convolution form (smaller ones gather patches).
  [
    'explicit pads, s2, 8 channels',
    [2, 8, 6, 8],
    [4, 4, 8, 4],
    2,
    [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  ],
  ['strides 2x1, 5x3 filter, 8 channels', [2, 9, 6, 8], [5, 3, 8, 3], [2, 1], 'same'],
  ['3x3 s2 valid, odd sizes, 8 channels', [2, 9, 7, 8], [3, 3, 8, 3], 2, 'valid'],
];

describe('the phase taps (core/src/kernels/phase-taps.ts)', () => {
  it("the general plan of a 4-tap, stride-2 layer padded by 1 is the GAN layers' stridedTap", () => {
    // The transposed convolution's output phase a reads taps stridedTap(a, 1), stridedTap(a, 0).
    const phases = axisPhases(8, 4, 4, 2, 1)!;
    expect(phases.map((p) => p.taps)).toEqual([0, 1].map((a) => [stridedTap(a, 1), stridedTap(a, 0)]));
    expect(phases.map((p) => p.taps)).toEqual([
      [3, 1],
      [2, 0],
    ]);
    // The strided convolution's phase filters: tap (U, V) of input phase (r, s) is filter tap (2U + 1 − r, 2V + 1 − s).
    expect(stridedPhaseTaps()[0]).toEqual([5, 4, 1, 0]);
    expect(new Set(stridedPhaseTaps().flat()).size).toBe(16);
  });
});

describe('Conv2DBackpropFilter on WASM', () => {
  it.each(cases)('equals the cpu backend: %s', async (_, xShape, filterShape, strides, pad) => {
    const outShape = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad).outShape;
    const x = values(
      xShape.reduce((a, b) => a * b),
      1,
    );
    const dy = values(
      outShape.reduce((a, b) => a * b),
      2,
    );
    const run = () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, outShape) }, {
        strides,
        pad,
        dataFormat: 'NHWC',
        filterShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const expected = await on('cpu', () => tf.tidy(run));
    expectClose(await on('wasm', () => tf.tidy(run)), expected);
  });
});

describe('Conv2DBackpropFilter on the cpu backend (its own is a slow loop)', () => {
  it("equals the cpu backend's kernel", async () => {
    const [xShape, filterShape]: Shape4[] = [
      [2, 8, 8, 3],
      [4, 4, 3, 5],
    ];
    const x = values(2 * 8 * 8 * 3, 11);
    const dy = values(2 * 4 * 4 * 5, 12);
    const run = () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, [2, 4, 4, 5]) }, {
        strides: 2,
        pad: 'same',
        dataFormat: 'NHWC',
        filterShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const expected = await on('cpu', () => tf.tidy(run));
    expect(registerWasmKernels('cpu', ['Conv2DBackpropFilter'])).toEqual(['Conv2DBackpropFilter']);
    try {
      expectClose(await on('cpu', () => tf.tidy(run)), expected);
    } finally {
      expect(restoreWasmKernels('cpu')).toEqual(['Conv2DBackpropFilter']);
    }
  });
});

describe('Conv2DBackpropInput on WASM', () => {
  it.each(cases)('equals the cpu backend: %s', async (_, xShape, filterShape, strides, pad) => {
    const outShape = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad).outShape;
    const filter = values(
      filterShape.reduce((a, b) => a * b),
      3,
    );
    const dy = values(
      outShape.reduce((a, b) => a * b),
      4,
    );
    const run = () => tf.conv2dTranspose(tf.tensor4d(dy, outShape), tf.tensor4d(filter, filterShape), xShape, strides, pad);
    const expected = await on('cpu', () => tf.tidy(run));
    expectClose(await on('wasm', () => tf.tidy(run)), expected);
  });

  it('derives phase filters once per filter tensor and frees them with it', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    const cache = DerivedCache.of(backend);
    const dataIds = backend.numDataIds();
    const filter = tf.tensor4d(values(4 * 4 * 3 * 5, 9), [4, 4, 3, 5]);
    const dy = tf.tensor4d(values(2 * 4 * 4 * 5, 10), [2, 4, 4, 5]);
    const first = tf.conv2dTranspose(dy, filter, [2, 8, 8, 3], 2, 'same');
    const held = backend.numDataIds();
    const second = tf.conv2dTranspose(dy, filter, [2, 8, 8, 3], 2, 'same');
    expect(backend.numDataIds()).toBe(held + 1); // only the new output
    expect(Array.from(second.dataSync())).toEqual(Array.from(first.dataSync()));
    expect(cache.size).toBeGreaterThan(0);
    tf.dispose([first, second, filter, dy]);
    expect(backend.numDataIds()).toBe(dataIds);
  });

  it('registering again keeps one wrapper (no recursion into itself); restoring puts the originals back', async () => {
    await tf.setBackend('wasm');
    expect(registerWasmKernels()).toEqual([]);
    const ours = tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc;
    expect(restoreWasmKernels().sort()).toEqual([
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropInput',
      'GanSubPixelConv',
      'Tile',
    ]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc).not.toBe(ours);
    expect(registerWasmKernels('wasm', ['Conv2DBackpropFilter'])).toEqual(['Conv2DBackpropFilter']);
    expect(registerWasmKernels().sort()).toEqual(['Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput', 'GanSubPixelConv', 'Tile']);
    const y = tf.conv2dTranspose(tf.ones([1, 2, 2, 2]) as tf.Tensor4D, tf.ones([4, 4, 3, 2]) as tf.Tensor4D, [1, 4, 4, 3], 2, 'same');
    expect(y.shape).toEqual([1, 4, 4, 3]);
    y.dispose();
  });
});

describe('DepthwiseConv2dNativeBackpropInput on WASM', () => {
  // [input shape, filter shape, strides, pad]: MobileNetV2's depthwise layers (3x3, stride 1 same, and
  // stride 2 valid after its ZeroPadding2D), then other layouts.
  const depthwiseCases: [string, Shape4, Shape4, number | [number, number], Pad][] = [
    ['3x3 s1 same', [2, 8, 8, 5], [3, 3, 5, 1], 1, 'same'],
    ['3x3 s2 valid on a padded 9x9 (MobileNetV2 down)', [2, 9, 9, 4], [3, 3, 4, 1], 2, 'valid'],
    ['3x3 s2 same, even size', [1, 8, 8, 3], [3, 3, 3, 1], 2, 'same'],
    ['3x3 s2 same, odd size', [2, 7, 5, 3], [3, 3, 3, 1], 2, 'same'],
    ['5x3 strides 2x1 valid', [1, 11, 6, 2], [5, 3, 2, 1], [2, 1], 'valid'],
    ['2x2 s3 valid (dy spread past dx: none cropped)', [1, 10, 10, 2], [2, 2, 2, 1], 3, 'valid'],
    ['2x2 s4 valid (the spread dy cropped by 2)', [1, 10, 10, 2], [2, 2, 2, 1], 4, 'valid'],
    ['1x1 s2 same (the spread dy cropped by 1)', [2, 5, 6, 3], [1, 1, 3, 1], 2, 'same'],
  ];

  it.each(depthwiseCases)('the input gradient equals the cpu backend: %s', async (_, xShape, fShape, strides, pad) => {
    const x = values(
      xShape.reduce((a, b) => a * b),
      21,
    );
    const f = values(
      fShape.reduce((a, b) => a * b),
      22,
    );
    const gradient = () =>
      tf.tidy(() => {
        const filter = tf.tensor4d(f, fShape);
        const input = tf.tensor4d(x, xShape);
        // A weighted sum, so every dy element differs and a misplaced one shows.
        return tf.grad((xi: tf.Tensor) => {
          const y = tf.depthwiseConv2d(xi as tf.Tensor4D, filter, strides, pad);
          return tf.sum(tf.mul(y, tf.reshape(tf.range(1, y.size + 1), y.shape)));
        })(input);
      });
    expectClose(await on('wasm', gradient), await on('cpu', gradient), 1e-5);
  });

  it('refuses a channel multiplier above 1 instead of computing something else', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const filter = tf.ones([3, 3, 2, 2]) as tf.Tensor4D;
    expect(() => tf.grad((xi: tf.Tensor) => tf.sum(tf.depthwiseConv2d(xi as tf.Tensor4D, filter, 1, 'same')))(x)).toThrow(
      /channel multiplier 2/,
    );
    tf.dispose([x, filter]);
  });

  it('leaks nothing: the flipped filter is freed with the filter it came from', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const filter = tf.tensor4d(values(3 * 3 * 4, 5), [3, 3, 4, 1]);
    const x = tf.tensor4d(values(2 * 6 * 6 * 4, 6), [2, 6, 6, 4]);
    const grad = tf.grad((xi: tf.Tensor) => tf.sum(tf.depthwiseConv2d(xi as tf.Tensor4D, filter, 2, 'same')));
    const cache = DerivedCache.of(tf.backend());
    const derived = cache.size;
    // Under a gradient tape the kernel sees the tape's saved copy of the filter: what it derives lives
    // and dies with that copy, so nothing outlives the gradient.
    const first = grad(x);
    expect(cache.size).toBe(derived);
    const held = backend.numDataIds();
    const second = grad(x);
    expect(cache.size).toBe(derived);
    expect(backend.numDataIds()).toBe(held + 1);
    expect(Array.from(second.dataSync())).toEqual(Array.from(first.dataSync()));
    tf.dispose([first, second, filter, x]);
    expect(cache.size).toBe(derived);
    expect(backend.numDataIds()).toBe(before);
  });
});

describe('Tile on WASM', () => {
  it.each([
    ['batch-norm broadcast', [1, 1, 1, 5], [3, 4, 2, 1]],
    ['2-D both axes', [2, 3], [3, 2]],
    ['middle axis', [3, 1, 2], [1, 4, 1]],
    ['inner axis of many rows (original kernel)', [20000, 1], [1, 3]],
  ] as [string, number[], number[]][])('equals the cpu backend: %s', async (_, shape, reps) => {
    const x = values(
      shape.reduce((a, b) => a * b),
      7,
    );
    const run = () => tf.tile(tf.tensor(x, shape), reps);
    expectClose(await on('wasm', () => tf.tidy(run)), await on('cpu', () => tf.tidy(run)), 0);
  });

  it('tiles int32 tensors', async () => {
    const run = () => tf.tile(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), [2, 3]);
    expect(Array.from(await on('wasm', () => tf.tidy(run)))).toEqual(Array.from(await on('cpu', () => tf.tidy(run))));
  });
});

describe('a whole DCGAN step', () => {
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 0 };

  /** Gradients of D's loss (real + fake) and G's loss w.r.t. every trainable weight, by name. */
  async function gradients(backend: 'cpu' | 'wasm', init: Map<string, Float32Array> | undefined) {
    await tf.setBackend(backend);
    const g = buildGenerator(config, 3);
    const d = buildDiscriminator(config, 3);
    const weights = [...g.weights, ...d.weights];
    if (init) for (const w of weights) w.write(tf.tensor(init.get(w.originalName)!, w.shape as number[]));
    const before = tf.memory().numTensors;
    const z = tf.tensor2d(values(4 * config.latentSize, 5), [4, config.latentSize]);
    const real = tf.tensor4d(values(4 * 16 * 16 * 3, 6), [4, 16, 16, 3]);
    const bce = (logits: tf.Tensor, label: number) => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits);
    const dGrads = tf.variableGrads(
      () => {
        const fake = g.apply(z, { training: true }) as tf.Tensor; // only D's weights are differentiated
        return tf.add(
          bce(d.apply(real, { training: true }) as tf.Tensor, 1),
          bce(d.apply(fake, { training: true }) as tf.Tensor, 0),
        ) as tf.Scalar;
      },
      d.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const gGrads = tf.variableGrads(
      () => bce(d.apply(g.apply(z, { training: true }) as tf.Tensor, { training: true }) as tf.Tensor, 1) as tf.Scalar,
      g.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    // Variable names get unique suffixes per model instance; key the gradients by layer weight name.
    const byVariable = new Map(weights.map((w) => [(w.read() as tf.Variable).name, w.originalName]));
    const out = new Map<string, Float32Array>();
    for (const [name, t] of [...Object.entries(dGrads.grads), ...Object.entries(gGrads.grads)])
      out.set(byVariable.get(name)!, t.dataSync() as Float32Array);
    const values0 = new Map(weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
    tf.dispose([dGrads.value, gGrads.value, ...Object.values(dGrads.grads), ...Object.values(gGrads.grads), z, real]);
    const leaked = tf.memory().numTensors - before;
    g.dispose();
    d.dispose();
    return { grads: out, weights: values0, leaked };
  }

  it('gives the cpu backend gradients for every weight of G and D', async () => {
    const cpu = await gradients('cpu', undefined);
    const wasm = await gradients('wasm', cpu.weights);
    expect(wasm.leaked).toBe(0);
    expect([...wasm.grads.keys()].sort()).toEqual([...cpu.grads.keys()].sort());
    expect(cpu.grads.size).toBeGreaterThan(8);
    for (const [name, expected] of cpu.grads) {
      expect(
        expected.some((v) => v !== 0),
        name,
      ).toBe(true);
      expectClose(wasm.grads.get(name)!, expected, 1e-4);
    }
  });
});

describe('generators on WASM', () => {
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 16, discriminatorWidth: 4, numClasses: 0 };

  it('the fast generator and the layers model (transposed convolutions) on WASM equal the layers model on cpu', async () => {
    await tf.setBackend('cpu');
    const reference = buildGenerator(config, 4);
    const named = new Map(reference.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
    const input = values(3 * config.latentSize, 8);
    const expected = await on('cpu', () => tf.tidy(() => reference.predict(tf.tensor2d(input, [3, config.latentSize])) as tf.Tensor));
    reference.dispose();

    await tf.setBackend('wasm');
    const g = buildGenerator(config, 4);
    for (const w of g.weights) w.write(tf.tensor(named.get(w.originalName)!, w.shape as number[]));
    const fast = FastGenerator.fromWeights(config, Object.fromEntries(g.weights.map((w) => [w.originalName, w.read()])));
    // The first calls derive (and keep, while the weights live) the transposed convolutions' phase
    // filters and the fast generator's packed ones (GanSubPixelConv).
    tf.tidy(() => g.predict(tf.tensor2d(input, [3, config.latentSize])) as tf.Tensor).dispose();
    tf.tidy(() => fast.forward(tf.tensor2d(input, [3, config.latentSize]))).dispose();
    expectClose(await on('wasm', () => tf.tidy(() => g.predict(tf.tensor2d(input, [3, config.latentSize])) as tf.Tensor)), expected, 1e-5);
    expectClose(await on('wasm', () => tf.tidy(() => fast.forward(tf.tensor2d(input, [3, config.latentSize])))), expected, 1e-5);
    fast.dispose();
    g.dispose();
  });
});
