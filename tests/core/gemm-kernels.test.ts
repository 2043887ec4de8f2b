/**
 * The AssemblyScript GEMM (core/asm/gemm.ts → core/src/kernels/gemm/): the committed `.wasm` files
 * are what the source builds to; the raw kernel (both variants, unshared and shared memory,
 * accumulate, row strides) against a float64 reference; BatchMatMul against the cpu backend on random
 * shapes with transposed operands and batches; the convolution gradients that hand it transposed
 * operands; a whole DCGAN step's gradients; and the fallbacks. For serving: the raw convolutions
 * (im2col and Winograd, scattered output rows, bias, ReLU) against a float64 reference, and the
 * generator's layers on GanSubPixelConv against the cpu backend, with the same bits whichever way the
 * tiles load A.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type GemmBuildName, GEMM_BUILDS, GEMM_OUT_DIR, buildGemm } from '../../core/asm/build.ts';
import { type ModelConfig, FastGenerator, generatorInput, latentFromSeed } from '@gan/core';
import { SUB_PIXEL_CONV, SubPixelConvError, registerWasmKernels } from '@gan/core/kernels/index';
import {
  ALWAYS,
  DEFAULT_MATMUL_POLICY,
  Gemm,
  type GemmVariant,
  type WasmBackendInternals,
  Winograd,
  bestGemmVariant,
  enableRelaxedSimd,
  gemmKernelVariant,
  gemmKernelsOf,
  parseKernelChoice,
  KernelChoiceError,
  registerElementwiseKernels,
  registerGemmKernels,
  restoreElementwiseKernels,
  restoreGemmKernels,
} from '@gan/core/kernels/gemm/index';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { GOLDEN_WIDE_FORWARD, wideForwardSha256 } from '../worker/golden.ts';
import { on, values } from './backend-compare.ts';

const VARIANTS: GemmVariant[] = ['simd', 'relaxed-simd'];

beforeAll(async () => {
  enableRelaxedSimd();
  await tf.setBackend('wasm');
  registerWasmKernels();
});
afterAll(async () => {
  restoreGemmKernels();
  await tf.setBackend('cpu');
});

function worstRelative(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst / scale;
}

/** Ids of the sections of a WebAssembly binary. */
function sectionIds(binary: Uint8Array): number[] {
  const ids: number[] = [];
  let at = 8;
  while (at < binary.length) {
    ids.push(binary[at++]);
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = binary[at++];
      size |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    at += size;
  }
  return ids;
}

describe('the committed kernel modules', () => {
  it.each(Object.keys(GEMM_BUILDS) as GemmBuildName[])('%s is what core/asm/gemm.ts builds to (npm run build:kernels)', async (name) => {
    const committed = new Uint8Array(readFileSync(GEMM_OUT_DIR + name));
    const built = await buildGemm(name);
    expect(Buffer.from(built).equals(Buffer.from(committed))).toBe(true);
    // Imports env.memory and nothing else, and has no data segment to write into tfjs's memory.
    const module = new WebAssembly.Module(committed);
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(sectionIds(committed)).not.toContain(11);
  });

  it('relaxed SIMD compiles here once enabled', () => {
    expect(bestGemmVariant()).toBe('relaxed-simd');
  });
});

/** A stand-in for the backend's memory and malloc (bump allocation), unshared or shared. */
function fakeBackend(shared: boolean): WasmBackendInternals & { heap: () => Float32Array } {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared } as WebAssembly.MemoryDescriptor);
  let top = 1024;
  return {
    wasm: {
      wasmMemory: memory,
      _free: () => {},
      _malloc: (bytes: number) => {
        const at = top;
        top += Math.ceil(bytes / 16) * 16;
        const needed = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
        if (needed > 0) memory.grow(needed);
        return at;
      },
    },
    dataIdMap: { get: () => undefined },
    makeOutput: () => {
      throw new Error('not used');
    },
    heap: () => new Float32Array(memory.buffer),
  };
}

describe('the raw kernel', () => {
  it.each(VARIANTS.flatMap((variant) => ['unshared', 'shared'].map((memory) => [variant, memory] as const)))(
    '%s on %s memory: C (wider rows) + op(A)·op(B) equals a float64 reference',
    (variant, memory) => {
      const shared = memory === 'shared';
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 140 }),
          fc.integer({ min: 1, max: 530 }),
          fc.integer({ min: 0, max: 300 }),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          (m, n, k, transposeA, transposeB, accumulate) => {
            const backend = fakeBackend(shared);
            const gemm = Gemm.of(backend, variant);
            expect(gemm.variant).toBe(variant);
            const ldc = n + 3;
            const [a, b, c] = [m * k, k * n, m * ldc].map((size) => backend.wasm._malloc(size * 4));
            const heap = backend.heap();
            const av = values(m * k, m + 7 * k);
            const bv = values(k * n, n + 11 * k);
            const cv = values(m * ldc, m + n);
            heap.set(av, a / 4);
            heap.set(bv, b / 4);
            heap.set(cv, c / 4);
            const aStr = transposeA ? { row: 1, col: m } : { row: k, col: 1 };
            const bStr = transposeB ? { row: 1, col: k } : { row: n, col: 1 };
            gemm.run(m, n, k, { offset: a, ...aStr }, { offset: b, ...bStr }, c, ldc, accumulate);
            const expected = Float64Array.from(cv);
            for (let i = 0; i < m; i++)
              for (let j = 0; j < n; j++) {
                let sum = accumulate ? cv[i * ldc + j] : 0;
                for (let p = 0; p < k; p++) sum += av[i * aStr.row + p * aStr.col] * bv[p * bStr.row + j * bStr.col];
                expected[i * ldc + j] = sum;
              }
            // Columns past n (the wider rows) are left as they were.
            expect(worstRelative(backend.heap().subarray(c / 4, c / 4 + m * ldc), expected)).toBeLessThan(1e-5);
          },
        ),
        { numRuns: 12, seed: 14 },
      );
    },
  );
});

describe('BatchMatMul on the GEMM', () => {
  it.each(VARIANTS)('%s equals the cpu backend on random shapes, transposes and broadcast batches', async (variant) => {
    registerGemmKernels({ variant, matMulPolicy: ALWAYS });
    expect(gemmKernelVariant('BatchMatMul')).toBe(variant);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            m: fc.integer({ min: 1, max: 70 }),
            n: fc.integer({ min: 1, max: 70 }),
            k: fc.integer({ min: 1, max: 300 }),
            batch: fc.integer({ min: 1, max: 3 }),
            broadcast: fc.constantFrom('none', 'a', 'b'),
            transposeA: fc.boolean(),
            transposeB: fc.boolean(),
          }),
          async ({ m, n, k, batch, broadcast, transposeA, transposeB }) => {
            const aShape = [broadcast === 'a' ? 1 : batch, ...(transposeA ? [k, m] : [m, k])];
            const bShape = [broadcast === 'b' ? 1 : batch, ...(transposeB ? [n, k] : [k, n])];
            const av = values(
              aShape.reduce((p, d) => p * d),
              m + k,
            );
            const bv = values(
              bShape.reduce((p, d) => p * d),
              n + 3 * k,
            );
            const run = () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), transposeA, transposeB);
            const expected = await on('cpu', () => tf.tidy(run));
            expect(worstRelative(await on('wasm', () => tf.tidy(run)), expected)).toBeLessThan(1e-5);
          },
        ),
        { numRuns: 25, seed: 14 },
      );
    } finally {
      restoreGemmKernels();
    }
  });

  it('leaves int32 products and two-sided batch broadcasts to the original kernel', async () => {
    registerGemmKernels({ matMulPolicy: ALWAYS });
    try {
      // tfjs's WASM kernel refuses int32: the same refusal, not a wrong product.
      const ints = () => tf.matMul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), tf.tensor2d([1, 0, 2, 1, 0, 3], [3, 2], 'int32'));
      expect(() => tf.tidy(ints)).toThrow(/not yet supported/);
      const crossed = () => tf.matMul(tf.tensor(values(2 * 3 * 4, 1), [2, 1, 3, 4]), tf.tensor(values(3 * 4 * 5, 2), [1, 3, 4, 5]));
      expect(worstRelative(await on('wasm', () => tf.tidy(crossed)), await on('cpu', () => tf.tidy(crossed)))).toBeLessThan(1e-5);
    } finally {
      restoreGemmKernels();
    }
  });

  it('the default policy leaves large plain products to XNNPACK; the kernel choice (GAN_KERNELS) picks the kernels', () => {
    const shape = { batch: 1, m: 1024, n: 1024, k: 1024, transposeA: false, transposeB: false };
    expect(DEFAULT_MATMUL_POLICY(shape)).toBe(false);
    expect(DEFAULT_MATMUL_POLICY({ ...shape, transposeA: true })).toBe(true);
    expect(DEFAULT_MATMUL_POLICY({ ...shape, m: 48, n: 64, k: 16384 })).toBe(true);
    expect(gemmKernelsOf(parseKernelChoice('tfjs'))).toEqual([]);
    expect(gemmKernelsOf(parseKernelChoice('matmul'))).toEqual(['BatchMatMul']);
    expect(gemmKernelsOf(parseKernelChoice(undefined))).toEqual([
      'BatchMatMul',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'Conv2D',
      'FusedConv2D',
    ]);
    expect(gemmKernelsOf(parseKernelChoice('GEMM'))).toEqual(gemmKernelsOf(parseKernelChoice('all')));
    // A typo is an error, not "all".
    expect(() => parseKernelChoice('matmull')).toThrow(KernelChoiceError);
  });

  it('restoring puts the original back, and registering twice keeps one wrapper', async () => {
    await tf.setBackend('wasm');
    const original = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    registerGemmKernels();
    registerGemmKernels();
    expect(restoreGemmKernels()).toEqual(['BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Conv2D', 'FusedConv2D']);
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(original);
    expect(gemmKernelVariant('BatchMatMul')).toBeUndefined();
  });
});

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

describe('convolution gradients handing the GEMM transposed operands', () => {
  // The filter gradient's gathered form (16+ input channels), the composed kernel's patch and dense
  // forms under it, and the input gradient's dense form.
  const cases: [string, Shape4, Shape4, number | [number, number], Pad][] = [
    ['4x4 s2 same, 3 channels (patches)', [3, 8, 8, 3], [4, 4, 3, 5], 2, 'same'],
    ['4x4 s1 valid to 1x1 (dense)', [5, 4, 4, 6], [4, 4, 6, 7], 1, 'valid'],
    ['4x4 s2 same, 16 channels (gathered)', [3, 8, 8, 16], [4, 4, 16, 9], 2, 'same'],
    ['3x3 s2 valid, odd sizes, 17 channels (gathered)', [2, 9, 7, 17], [3, 3, 17, 5], 2, 'valid'],
    [
      'explicit pads, 20 channels (gathered)',
      [2, 8, 6, 20],
      [4, 4, 20, 4],
      2,
      [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    ],
    ['strides 2x1, 5x3 filter, 16 channels (gathered)', [2, 9, 6, 16], [5, 3, 16, 3], [2, 1], 'same'],
    ['4x4 s1 valid to 1x1, 32 channels (gathered)', [3, 4, 4, 32], [4, 4, 32, 1], 1, 'valid'],
    // The input gradient's Winograd form: 4x4 s2 same, channels by 4, even dy.
    ['4x4 s2 same, 8 → 12 channels (gathered, Winograd)', [3, 8, 8, 8], [4, 4, 8, 12], 2, 'same'],
    ['4x4 s2 same, 12x8 image, 16 → 4 channels (gathered, Winograd)', [2, 12, 8, 16], [4, 4, 16, 4], 2, 'same'],
  ];
  it.each(cases)('filter and input gradients equal the cpu backend: %s', async (label, xShape, filterShape, strides, pad) => {
    const outShape = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad).outShape;
    const x = values(
      xShape.reduce((a, b) => a * b),
      1,
    );
    const dy = values(
      outShape.reduce((a, b) => a * b),
      2,
    );
    const filter = values(
      filterShape.reduce((a, b) => a * b),
      3,
    );
    const filterGrad = () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, outShape) }, {
        strides,
        pad,
        dataFormat: 'NHWC',
        filterShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const inputGrad = () => tf.conv2dTranspose(tf.tensor4d(dy, outShape), tf.tensor4d(filter, filterShape), xShape, strides, pad);
    const expected = [await on('cpu', () => tf.tidy(filterGrad)), await on('cpu', () => tf.tidy(inputGrad))];
    registerGemmKernels();
    const winograd = vi.spyOn(Winograd.prototype, 'conv');
    const filterWinograd = vi.spyOn(Winograd.prototype, 'filterGradient');
    try {
      expect(worstRelative(await on('wasm', () => tf.tidy(filterGrad)), expected[0])).toBeLessThan(1e-5);
      expect(worstRelative(await on('wasm', () => tf.tidy(inputGrad)), expected[1])).toBeLessThan(1e-5);
      // Where the Winograd forms apply: one call per output phase for the input gradient, one for the filter's.
      expect(winograd).toHaveBeenCalledTimes(label.includes('Winograd') ? 4 : 0);
      expect(filterWinograd).toHaveBeenCalledTimes(label.includes('Winograd') ? 1 : 0);
    } finally {
      winograd.mockRestore();
      filterWinograd.mockRestore();
      restoreGemmKernels();
    }
  });
});

describe('strided convolutions on Winograd (input phases)', () => {
  const cases: [string, Shape4, Shape4, boolean][] = [
    ['4x4 s2 same, 8 → 12 channels', [3, 8, 8, 8], [4, 4, 8, 12], true],
    ['4x4 s2 same, 16x12 image, 4 → 16 channels', [2, 16, 12, 4], [4, 4, 4, 16], true],
    ['3 input channels (the image layer): the original kernel', [2, 8, 8, 3], [4, 4, 3, 8], false],
    ['6x6 image (odd output): the original kernel', [2, 6, 6, 8], [4, 4, 8, 8], false],
  ];
  it.each(cases)('conv2d and fused conv2d (bias, ReLU) equal the cpu backend: %s', async (_, xShape, filterShape, winograd) => {
    // Tensors are made inside each computation: made outside, the cpu's would be copied to wasm and counted as leaks.
    const x = () => tf.tensor4d(values(xShape[0] * xShape[1] * xShape[2] * xShape[3], 31), xShape);
    const filter = () => tf.tensor4d(values(16 * filterShape[2] * filterShape[3], 32), filterShape);
    const bias = () => tf.tensor1d(values(filterShape[3], 33));
    const plain = () => tf.conv2d(x(), filter(), 2, 'same');
    const fused = () => tf.fused.conv2d({ x: x(), filter: filter(), strides: 2, pad: 'same', bias: bias(), activation: 'relu' });
    const expected = [await on('cpu', () => tf.tidy(plain)), await on('cpu', () => tf.tidy(fused))];
    registerGemmKernels();
    const phases = vi.spyOn(Winograd.prototype, 'convPhases');
    try {
      expect(worstRelative(await on('wasm', () => tf.tidy(plain)), expected[0])).toBeLessThan(1e-5);
      expect(worstRelative(await on('wasm', () => tf.tidy(fused)), expected[1])).toBeLessThan(1e-5);
      expect(phases).toHaveBeenCalledTimes(winograd ? 2 : 0);
    } finally {
      phases.mockRestore();
      restoreGemmKernels();
    }
  });

  it('the gradients through the layer (tf.grads) equal the cpu backend', async () => {
    const both = () => {
      const loss = (a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 2, 'same')));
      const [dx, dFilter] = tf.grads(loss)([
        tf.tensor4d(values(2 * 8 * 8 * 8, 34), [2, 8, 8, 8]),
        tf.tensor4d(values(4 * 4 * 8 * 4, 35), [4, 4, 8, 4]),
      ]);
      return tf.concat([tf.reshape(dx, [-1]), tf.reshape(dFilter, [-1])]);
    };
    const expected = await on('cpu', () => tf.tidy(both));
    registerGemmKernels();
    try {
      expect(worstRelative(await on('wasm', () => tf.tidy(both)), expected)).toBeLessThan(1e-5);
    } finally {
      restoreGemmKernels();
    }
  });
});

describe('the input gradient on Winograd', () => {
  it('derives the Winograd planes once per filter tensor and frees them with it', async () => {
    await tf.setBackend('wasm');
    registerGemmKernels();
    try {
      const backend = tf.engine().backend;
      const dataIds = backend.numDataIds();
      const filter = tf.tensor4d(values(4 * 4 * 8 * 12, 21), [4, 4, 8, 12]);
      const dy = tf.tensor4d(values(2 * 4 * 4 * 12, 22), [2, 4, 4, 12]);
      const first = tf.conv2dTranspose(dy, filter, [2, 8, 8, 8], 2, 'same');
      const held = backend.numDataIds();
      const second = tf.conv2dTranspose(dy, filter, [2, 8, 8, 8], 2, 'same');
      expect(backend.numDataIds()).toBe(held + 1); // only the new output
      expect(Array.from(second.dataSync())).toEqual(Array.from(first.dataSync()));
      tf.dispose([first, second, filter, dy]);
      expect(backend.numDataIds()).toBe(dataIds);
    } finally {
      restoreGemmKernels();
    }
  });
});

describe('a whole DCGAN step with the GEMM', () => {
  // Wide enough that the inner layers take the filter gradient's gathered form.
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 16, discriminatorWidth: 16, numClasses: 0 };

  /** Gradients of D's loss (real + fake) and G's loss w.r.t. every trainable weight, by name. */
  async function gradients(backend: 'cpu' | 'wasm', init: Map<string, Float32Array> | undefined) {
    await tf.setBackend(backend);
    const g = buildGenerator(config, 3);
    const d = buildDiscriminator(config, 3);
    const weights = [...g.weights, ...d.weights];
    if (init) for (const w of weights) w.write(tf.tensor(init.get(w.originalName)!, w.shape as number[]));
    const z = tf.tensor2d(values(4 * config.latentSize, 5), [4, config.latentSize]);
    const real = tf.tensor4d(values(4 * 16 * 16 * 3, 6), [4, 16, 16, 3]);
    const bce = (logits: tf.Tensor, label: number) => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits);
    const dGrads = tf.variableGrads(
      () => {
        const fake = g.apply(z, { training: true }) as tf.Tensor;
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
    const byVariable = new Map(weights.map((w) => [(w.read() as tf.Variable).name, w.originalName]));
    const out = new Map<string, Float32Array>();
    for (const [name, t] of [...Object.entries(dGrads.grads), ...Object.entries(gGrads.grads)])
      out.set(byVariable.get(name)!, t.dataSync() as Float32Array);
    const initial = new Map(weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
    tf.dispose([dGrads.value, gGrads.value, ...Object.values(dGrads.grads), ...Object.values(gGrads.grads), z, real]);
    g.dispose();
    d.dispose();
    return { grads: out, weights: initial };
  }

  it('gives the cpu backend gradients for every weight of G and D (with the element-wise kernels too)', async () => {
    const cpu = await gradients('cpu', undefined);
    registerGemmKernels({ matMulPolicy: ALWAYS });
    registerElementwiseKernels();
    try {
      const wasm = await gradients('wasm', cpu.weights);
      expect([...wasm.grads.keys()].sort()).toEqual([...cpu.grads.keys()].sort());
      for (const [name, expected] of cpu.grads) expect(worstRelative(wasm.grads.get(name)!, expected), name).toBeLessThan(1e-4);
    } finally {
      restoreElementwiseKernels();
      restoreGemmKernels();
    }
  });
});

/** A float64 reference of Gemm.conv / Winograd.conv: out(b, oh, ow, j) at its scattered row. */
function convReference(
  x: Float32Array,
  filter: Float32Array,
  bias: Float32Array | undefined,
  g: {
    batch: number;
    h: number;
    w: number;
    cin: number;
    kh: number;
    kw: number;
    padTop: number;
    padLeft: number;
    n: number;
    relu: boolean;
  },
  out: Float64Array,
  rows: { ldc: number; groupStride: number },
): void {
  const { batch, h, w, cin, kh, kw, padTop, padLeft, n, relu } = g;
  for (let b = 0; b < batch; b++)
    for (let oh = 0; oh < h; oh++)
      for (let ow = 0; ow < w; ow++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let u = 0; u < kh; u++)
            for (let v = 0; v < kw; v++) {
              const ih = oh - padTop + u;
              const iw = ow - padLeft + v;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              for (let ci = 0; ci < cin; ci++) sum += x[((b * h + ih) * w + iw) * cin + ci] * filter[((u * kw + v) * cin + ci) * n + j];
            }
          sum += bias?.[j] ?? 0;
          out[(b * h + oh) * rows.groupStride + ow * rows.ldc + j] = relu ? Math.max(0, sum) : sum;
        }
}

describe('the serving convolutions (raw)', () => {
  const geometry = (evenSizes: boolean, channelsBy4: boolean) =>
    fc.record({
      batch: fc.integer({ min: 1, max: 3 }),
      h: evenSizes ? fc.integer({ min: 1, max: 6 }).map((d) => 2 * d) : fc.integer({ min: 1, max: 11 }),
      w: evenSizes ? fc.integer({ min: 1, max: 6 }).map((d) => 2 * d) : fc.integer({ min: 1, max: 11 }),
      cin: channelsBy4 ? fc.integer({ min: 1, max: 40 }).map((d) => 4 * d) : fc.integer({ min: 1, max: 70 }),
      n: channelsBy4 ? fc.integer({ min: 1, max: 40 }).map((d) => 4 * d) : fc.integer({ min: 1, max: 40 }),
      kh: evenSizes ? fc.constant(2) : fc.integer({ min: 1, max: 3 }),
      kw: evenSizes ? fc.constant(2) : fc.integer({ min: 1, max: 3 }),
      padTop: fc.integer({ min: 0, max: 1 }),
      padLeft: fc.integer({ min: 0, max: 1 }),
      withBias: fc.boolean(),
      relu: fc.boolean(),
      gap: fc.integer({ min: 0, max: 5 }), // unwritten floats after each output row and group
      splitA: fc.boolean(),
    });

  /** Runs one convolution on a fresh memory; returns what it wrote where and the float64 reference. */
  function run(method: 'conv' | 'winograd', g: ReturnType<typeof geometry> extends fc.Arbitrary<infer T> ? T : never, shared = false) {
    const { batch, h, w, cin, n, kh, kw, padTop, padLeft, withBias, relu, gap, splitA } = g;
    const backend = fakeBackend(shared);
    const gemm = Gemm.of(backend, 'simd');
    const ldc = n + gap;
    const groupStride = w * ldc + gap;
    const size = { x: batch * h * w * cin, filter: kh * kw * cin * n, out: batch * h * groupStride };
    const x = values(size.x, cin + h);
    const filter = values(size.filter, n + 5 * kw);
    const bias = withBias ? values(n, 3) : undefined;
    const at = {
      x: backend.wasm._malloc(size.x * 4),
      filter: backend.wasm._malloc(size.filter * 4),
      bias: withBias ? backend.wasm._malloc(n * 4) : 0,
      out: backend.wasm._malloc(size.out * 4),
      packed: backend.wasm._malloc((method === 'conv' ? gemm.packedFloats(kh * kw * cin, n) : gemm.winograd.floats(cin, n)) * 4),
    };
    const before = values(size.out, 99); // what the rows' gaps must keep
    const heap = () => backend.heap();
    heap().set(x, at.x / 4);
    heap().set(filter, at.filter / 4);
    if (bias) heap().set(bias, at.bias / 4);
    heap().set(before, at.out / 4);
    const input = { offset: at.x, batch, height: h, width: w, channels: cin, padTop, padLeft, outHeight: h, outWidth: w };
    const rows = { offset: at.out, ldc, groupStride };
    if (method === 'conv') {
      gemm.prepack({ offset: at.filter, row: n, col: 1 }, kh * kw * cin, n, at.packed);
      gemm.conv(input, { packed: at.packed, kh, kw, n, bias: at.bias, relu }, rows, splitA);
    } else {
      gemm.winograd.prepack(filter, cin, n, at.packed);
      gemm.winograd.conv(input, { packed: at.packed, n, bias: at.bias, relu }, rows, splitA);
    }
    const expected = Float64Array.from(before);
    convReference(x, filter, bias, { batch, h, w, cin, kh, kw, padTop, padLeft, n, relu }, expected, { ldc, groupStride });
    return { actual: heap().slice(at.out / 4, at.out / 4 + size.out), expected };
  }

  it('im2col + GEMM: any filter size, padding and channel count, with bias, ReLU and scattered rows', () => {
    fc.assert(
      fc.property(geometry(false, false), (g) => {
        const { actual, expected } = run('conv', g);
        expect(worstRelative(actual, expected)).toBeLessThan(1e-5);
      }),
      { numRuns: 40, seed: 14 },
    );
  });

  it('Winograd F(2x2, 2x2): 2x2 filters on even sizes, channels by 4, with bias, ReLU and scattered rows', () => {
    fc.assert(
      fc.property(geometry(true, true), (g) => {
        const { actual, expected } = run('winograd', g);
        expect(worstRelative(actual, expected)).toBeLessThan(1e-5);
      }),
      { numRuns: 40, seed: 14 },
    );
  });

  it("gives the same bits whether tiles load A as one vector or four (workerd's and Node's layouts), on unshared or shared memory", () => {
    fc.assert(
      fc.property(geometry(true, true), fc.constantFrom<'conv' | 'winograd'>('conv', 'winograd'), (g, method) => {
        const split = run(method, { ...g, splitA: true }).actual;
        const splat = run(method, { ...g, splitA: false }, true).actual;
        expect(Buffer.from(split.buffer).equals(Buffer.from(splat.buffer))).toBe(true);
      }),
      { numRuns: 15, seed: 14 },
    );
  });
});

describe('the serving generator on GanSubPixelConv', () => {
  beforeAll(() => {
    registerWasmKernels('wasm', [SUB_PIXEL_CONV]);
    expect(tf.getKernel(SUB_PIXEL_CONV, 'wasm')).toBeDefined();
  });

  /** Generator weights as the export writes them (kernels [4, 4, out, in], batch norm), seeded. */
  function weights(config: ModelConfig, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
    const g = buildGenerator(config, seed);
    const out = new Map(g.weights.map((w) => [w.originalName, { shape: w.shape as number[], data: w.read().dataSync() as Float32Array }]));
    g.dispose();
    // Batch-norm statistics away from 0 and 1, so folding them is exercised.
    for (const [name, w] of out)
      if (/moving_(mean|variance)|gamma|beta/.test(name))
        w.data = w.data.map((v, i) => (name.includes('variance') ? 0.5 : 0) + v + 0.1 * Math.sin(i + seed));
    return out;
  }

  async function forward(backend: 'cpu' | 'wasm', config: ModelConfig, named: ReturnType<typeof weights>, batch: number) {
    await tf.setBackend(backend);
    const tensors = Object.fromEntries([...named].map(([name, w]) => [name, tf.tensor(w.data, w.shape)]));
    const fast = FastGenerator.fromWeights(config, tensors);
    tf.dispose(Object.values(tensors));
    const latents = Array.from({ length: batch }, (_, i) => latentFromSeed(`k${i}`, config.latentSize));
    const input = () =>
      generatorInput(
        config,
        latents,
        latents.map((_, i) => i % Math.max(1, config.numClasses)),
      );
    // The first pass prepacks the filters (kept while the generator lives); later ones allocate nothing else.
    tf.tidy(() => fast.forward(input())).dispose();
    const out = await on(backend, () => tf.tidy(() => fast.forward(input())));
    return { out, fast };
  }

  it('equals the cpu backend on random architectures and batches (Winograd and im2col layers, class-conditional batch norm)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          imageSize: fc.constantFrom(8, 16, 32),
          channels: fc.constantFrom(1, 3),
          latentSize: fc.integer({ min: 1, max: 12 }),
          generatorWidth: fc.integer({ min: 1, max: 12 }),
          numClasses: fc.constantFrom(0, 3),
          classBatchNorm: fc.boolean(),
          batch: fc.integer({ min: 1, max: 3 }),
        }),
        async ({ batch, classBatchNorm, ...shape }) => {
          const config: ModelConfig = {
            ...shape,
            discriminatorWidth: 4,
            ...(classBatchNorm && shape.numClasses > 0 && { generatorConditioning: 'batch-norm' as const }),
          };
          const named = weights(config, shape.generatorWidth);
          const cpu = await forward('cpu', config, named, batch);
          cpu.fast.dispose();
          await tf.setBackend('wasm');
          const dataIds = tf.engine().backend.numDataIds();
          const wasm = await forward('wasm', config, named, batch);
          expect(worstRelative(wasm.out, cpu.out)).toBeLessThan(1e-5);
          // The prepacked filters go with the generator's weights.
          wasm.fast.dispose();
          expect(tf.engine().backend.numDataIds()).toBe(dataIds);
        },
      ),
      { numRuns: 12, seed: 14 },
    );
  });

  it("computes the worker's pinned bits for a wide generator (Winograd and im2col layers)", async () => {
    await tf.setBackend('wasm');
    expect(await wideForwardSha256()).toBe(GOLDEN_WIDE_FORWARD);
  });

  it('runs each layer as one kernel call, and refuses phase convolutions that do not cover the output', async () => {
    await tf.setBackend('wasm');
    const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 4, generatorWidth: 16, discriminatorWidth: 4, numClasses: 0 };
    const named = weights(config, 1);
    const { fast } = await forward('wasm', config, named, 1);
    const { kernels } = await tf.profile(() => fast.forward(generatorInput(config, [latentFromSeed('p', 4)])));
    expect(kernels.filter((k) => k.name === SUB_PIXEL_CONV)).toHaveLength(2);
    expect(kernels.map((k) => k.name)).not.toContain('FusedConv2D');
    fast.dispose();

    const x = tf.zeros([1, 2, 2, 4]);
    const conv = { filter0: tf.zeros([2, 2, 4, 4]), bias0: tf.zeros([4]) };
    const attrs = { cout: 4, relu: true, rowPhases: [0], columnPhases: [0], padTops: [1], padLefts: [1] };
    expect(() => tf.engine().runKernel(SUB_PIXEL_CONV, { x, ...conv }, attrs as never)).toThrow(SubPixelConvError);
    tf.dispose([x, conv.filter0, conv.bias0]);
  });
});
