/**
 * The training kernels as a training step uses them, on both SIMD builds (plain and relaxed): every
 * kernel of the project's is shown to run (a count per kernel name, and per form of the GEMM: the
 * gathered filter gradient, the Winograd forms), on shapes drawn at random (fast-check: batch 1, odd
 * sizes and channel counts) against the cpu backend, and with NaN and infinities, which must come
 * out as tfjs's kernels give them: a diverging run must show, not be hidden.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModelConfig } from '@gan/core';
import { registerWasmKernels, restoreWasmKernels } from '@gan/core/kernels/index';
import {
  ALWAYS,
  ELEMENTWISE_KERNEL_NAMES,
  GEMM_KERNEL_NAMES,
  Gemm,
  type GemmVariant,
  Winograd,
  enableRelaxedSimd,
  registerElementwiseKernels,
  registerGemmKernels,
  restoreElementwiseKernels,
  restoreGemmKernels,
} from '@gan/core/kernels/gemm/index';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { on, seeded, values } from './backend-compare.ts';
import { KernelRuns } from './kernel-runs.ts';

const VARIANTS: GemmVariant[] = ['simd', 'relaxed-simd'];
/** Every kernel the trainer places on the wasm backend (trainer/src/backend.ts). */
const TRAINING_KERNELS = [...new Set([...GEMM_KERNEL_NAMES, ...ELEMENTWISE_KERNEL_NAMES, 'Tile'])];
/** The GEMM's forms, each a method of Gemm or of its Winograd that only its form calls. */
const GEMM_FORMS = ['run', 'runGathered', 'winograd', 'winogradPhases', 'winogradFilterGradient'] as const;
const spyOnForm = (form: (typeof GEMM_FORMS)[number]) => {
  if (form === 'run' || form === 'runGathered') return vi.spyOn(Gemm.prototype, form);
  const method = ({ winograd: 'conv', winogradPhases: 'convPhases', winogradFilterGradient: 'filterGradient' } as const)[form];
  return vi.spyOn(Winograd.prototype, method);
};

beforeAll(async () => {
  enableRelaxedSimd();
  await tf.setBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Runs `body` with the trainer's kernels on wasm in `variant` (every product on the GEMM), counting
 * which kernels answered and which GEMM forms ran; everything is put back afterwards.
 */
async function withTrainingKernels<T>(
  variant: GemmVariant,
  body: () => Promise<T>,
): Promise<{ result: T; runs: KernelRuns; forms: Record<(typeof GEMM_FORMS)[number], number>; variants: Set<GemmVariant> }> {
  await tf.setBackend('wasm');
  restoreElementwiseKernels();
  restoreGemmKernels();
  restoreWasmKernels();
  const runs = new KernelRuns(TRAINING_KERNELS);
  runs.watchOriginals();
  registerWasmKernels();
  registerGemmKernels({ variant, matMulPolicy: ALWAYS });
  registerElementwiseKernels({ variant });
  runs.watchPlaced();
  const spies = GEMM_FORMS.map((form) => [form, spyOnForm(form)] as const);
  try {
    const result = await body();
    const forms = Object.fromEntries(spies.map(([form, spy]) => [form, spy.mock.calls.length])) as Record<
      (typeof GEMM_FORMS)[number],
      number
    >;
    // The build each GEMM call ran on.
    const variants = new Set(
      spies.flatMap(([, spy]) => (spy.mock.contexts as (Gemm | Winograd)[]).map((c) => (c instanceof Winograd ? c.gemm : c).variant)),
    );
    return { result, runs, forms, variants };
  } finally {
    for (const [, spy] of spies) spy.mockRestore();
    restoreElementwiseKernels();
    restoreGemmKernels();
    restoreWasmKernels();
    runs.unwatch();
  }
}

function worstRelative(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  return worst;
}

describe('a DCGAN training step on each SIMD build', () => {
  // Wide enough that the inner layers take the filter gradient's gathered form and Winograd.
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 8, generatorWidth: 16, discriminatorWidth: 16, numClasses: 0 };

  /** Gradients of D's loss (real + fake) and G's loss w.r.t. every trainable weight, in one array. */
  function gradients(batch: number, init?: Map<string, Float32Array>): { grads: Float32Array; weights: Map<string, Float32Array> } {
    const g = buildGenerator(config, 3);
    const d = buildDiscriminator(config, 3);
    const weights = [...g.weights, ...d.weights];
    if (init) for (const w of weights) w.write(tf.tensor(init.get(w.originalName)!, w.shape as number[]));
    const initial = new Map(weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
    const grads = tf.tidy(() => {
      const z = tf.tensor2d(values(batch * config.latentSize, 5), [batch, config.latentSize]);
      const real = tf.tensor4d(values(batch * 16 * 16 * 3, 6), [batch, 16, 16, 3]);
      const bce = (logits: tf.Tensor, label: number) => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits);
      const dGrads = tf.variableGrads(
        () =>
          tf.add(
            bce(d.apply(real, { training: true }) as tf.Tensor, 1),
            bce(d.apply(g.apply(z, { training: true }) as tf.Tensor, { training: true }) as tf.Tensor, 0),
          ) as tf.Scalar,
        d.trainableWeights.map((w) => w.read() as tf.Variable),
      );
      const gGrads = tf.variableGrads(
        () => bce(d.apply(g.apply(z, { training: true }) as tf.Tensor, { training: true }) as tf.Tensor, 1) as tf.Scalar,
        g.trainableWeights.map((w) => w.read() as tf.Variable),
      );
      const all = [...Object.entries(dGrads.grads), ...Object.entries(gGrads.grads)].sort(([a], [b]) => a.localeCompare(b));
      return tf.concat(all.map(([, t]) => tf.reshape(t, [-1])));
    });
    const out = grads.dataSync() as Float32Array;
    grads.dispose();
    g.dispose();
    d.dispose();
    return { grads: out, weights: initial };
  }

  it.each(VARIANTS.flatMap((variant) => [1, 3].map((batch) => [variant, batch] as const)))(
    '%s, batch %i: the gradients of the cpu backend, every kernel of ours and every GEMM form run',
    async (variant, batch) => {
      await tf.setBackend('cpu');
      const cpu = gradients(batch);
      const { result, runs, forms, variants } = await withTrainingKernels(variant, async () => gradients(batch, cpu.weights));
      expect(worstRelative(result.grads, cpu.grads)).toBeLessThan(1e-4);
      expect([...variants]).toEqual([variant]);
      expect(runs.neverRan()).toEqual([]);
      expect(forms).toSatisfy((f: Record<string, number>) => Object.values(f).every((n) => n > 0), JSON.stringify(forms));
    },
  );
});

describe('random shapes against the cpu backend (batch 1, odd sizes and channel counts)', () => {
  /** `f` on cpu, then on wasm with the trainer's kernels in `variant`: worst relative difference. */
  async function compare(variant: GemmVariant, f: () => tf.Tensor): Promise<number> {
    return (await compareWithForms(variant, f)).worst;
  }
  async function compareWithForms(variant: GemmVariant, f: () => tf.Tensor) {
    const expected = await on('cpu', () => tf.tidy(f));
    const { result, forms } = await withTrainingKernels(variant, () => on('wasm', () => tf.tidy(f)));
    return { worst: worstRelative(result, expected), forms };
  }
  const tensor = seeded;

  it.each(VARIANTS)('%s: element-wise and per-channel kernels', async (variant) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 3 }),
        fc.integer({ min: 1, max: 19 }),
        fc.constantFrom('full', 'channels', 'scalar'),
        fc.integer({ min: 1, max: 1000 }),
        async (leading, c, layout, seed) => {
          const shape = [...leading, c];
          const other = layout === 'full' ? shape : layout === 'channels' ? [c] : [];
          const x = () => tensor(shape, seed);
          const y = () => tensor(other, seed + 1);
          const computations: (() => tf.Tensor)[] = [
            () => tf.add(x(), y()),
            () => tf.sub(y(), x()),
            () => tf.mul(x(), y()),
            () => tf.div(x(), tf.add(tf.abs(y()), 0.5)),
            () => tf.where(tf.greater(x(), y()), x(), tf.mul(x(), 0.2)),
            () => tf.square(x()),
            () => tf.relu(x()),
            () => tf.leakyRelu(x(), 0.2),
            () =>
              tf.concat([
                tf.reshape(
                  tf.sum(
                    x(),
                    leading.map((_, i) => i),
                  ),
                  [-1],
                ),
                tf.reshape(
                  tf.mean(
                    x(),
                    leading.map((_, i) => i),
                    true,
                  ),
                  [-1],
                ),
              ]),
            () =>
              tf.batchNorm(x(), tensor([c], seed + 2), tf.add(tf.abs(tensor([c], seed + 3)), 0.1), tensor([c], seed + 4), undefined, 1e-3),
          ];
          for (const f of computations) expect(await compare(variant, f)).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 20, seed: 21 },
    );
  });

  // Square filters: tfjs's own WASM Conv2D (XNNPACK), which the forward pass of most of these shapes
  // falls back to, gives zeros for some non-square ones with stride 2 and 'same' padding (a 2x1
  // filter on a 2x4 image, say): a tfjs bug, not one of these kernels, and no layer of the GAN's.
  it.each(VARIANTS)('%s: convolutions and their gradients, any square filter, stride and padding', async (variant) => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          k: fc.integer({ min: 1, max: 5 }),
          stride: fc.integer({ min: 1, max: 2 }),
          pad: fc.constantFrom<'same' | 'valid'>('same', 'valid'),
          cin: fc.integer({ min: 1, max: 20 }),
          cout: fc.integer({ min: 1, max: 13 }),
          extraH: fc.integer({ min: 0, max: 6 }),
          extraW: fc.integer({ min: 0, max: 6 }),
        }),
        async ({ batch, k, stride, pad, cin, cout, extraH, extraW }) => {
          const xShape: [number, number, number, number] = [batch, k + extraH, k + extraW, cin];
          expect(await compare(variant, () => convAndGradients(xShape, [k, k, cin, cout], stride, pad))).toBeLessThan(1e-4);
        },
      ),
      { numRuns: 25, seed: 22 },
    );
  });

  it.each(VARIANTS)("%s: the GAN's stride-2 4x4 layers (the Winograd forms), forward, transposed and gradients", async (variant) => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          half: fc.integer({ min: 1, max: 5 }),
          cin: fc.integer({ min: 1, max: 6 }).map((q) => 4 * q),
          cout: fc.integer({ min: 1, max: 5 }).map((q) => 4 * q),
        }),
        async ({ batch, half, cin, cout }) => {
          const xShape: [number, number, number, number] = [batch, 2 * half, 2 * half, cin];
          const { worst, forms } = await compareWithForms(variant, () => convAndGradients(xShape, [4, 4, cin, cout], 2, 'same'));
          expect(worst).toBeLessThan(1e-4);
          // Winograd's forms take even outputs (half × half); odd ones go to the other forms.
          const winograd = half % 2 === 0;
          expect(forms.winogradPhases > 0, 'the forward convolution').toBe(winograd);
          expect(forms.winogradFilterGradient > 0, 'the filter gradient').toBe(winograd);
          expect(forms.winograd > 0, 'the input gradient and the transposed convolution').toBe(winograd);
        },
      ),
      { numRuns: 10, seed: 23 },
    );
  });
});

/** A convolution, its transposed form and the gradients of both, flattened into one tensor. */
function convAndGradients(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  stride: number,
  pad: 'same' | 'valid',
): tf.Tensor {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(values(size(xShape), size(xShape) + 1), xShape);
  const filter = tf.tensor4d(values(size(filterShape), size(filterShape) + 2), filterShape);
  const y = tf.conv2d(x, filter, stride, pad);
  const dy = tf.tensor4d(values(y.size, y.size + 3), y.shape);
  // loss = Σ conv(x, f) · dy: its gradients are the input gradient (a transposed convolution of dy)
  // and the filter gradient.
  const [dx, dFilter] = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, stride, pad), dy)),
  )([x, filter]);
  const up = tf.conv2dTranspose(dy, filter, xShape as [number, number, number, number], stride, pad);
  return tf.concat([y, dx, dFilter, up].map((t) => tf.reshape(t, [-1])));
}

describe('NaN and infinities come out as the cpu backend gives them', () => {
  /** Special values first, then ordinary ones; 11 a row, so the SIMD loops' tails see them too. */
  const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1.5, -2.25, 3e38, -3e38, 1e-40, 0.75];
  /** Rows of the special values, each row rotated by its index (so every pair meets). */
  const specials = (rows: number, rotate = 0) =>
    Float32Array.from({ length: rows * SPECIAL.length }, (_, i) => SPECIAL[(i + Math.floor(i / SPECIAL.length) + rotate) % SPECIAL.length]);

  /**
   * Every value agrees in kind with the cpu backend's: NaN where it has NaN, the same infinity, and
   * finite values equal (`exact`: bit for bit but for the sign of NaN; else within 1e-6 relative).
   */
  function expectSameKinds(actual: Float32Array, expected: Float32Array, exact: boolean, label: string) {
    expect(actual.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const [a, e] = [actual[i], expected[i]];
      const where = `${label}[${i}]: ${a} where the cpu backend gives ${e}`;
      if (Number.isNaN(e)) expect(Number.isNaN(a), where).toBe(true);
      else if (!Number.isFinite(e) || exact) expect(Object.is(a, e), where).toBe(true);
      else expect(Math.abs(a - e) / Math.max(1e-30, Math.abs(e)), where).toBeLessThan(1e-6);
    }
  }

  async function check(variant: GemmVariant, label: string, f: () => tf.Tensor, exact: boolean, ran: string) {
    const expected = await on('cpu', () => tf.tidy(f));
    const { result, runs } = await withTrainingKernels(variant, () => on('wasm', () => tf.tidy(f)));
    expect(runs.ran(ran), `${label} ran on ${ran} of ours`).toBeGreaterThan(0);
    expectSameKinds(result, expected, exact, label);
  }

  const x = () => tf.tensor2d(specials(4), [4, SPECIAL.length]);
  const y = () => tf.tensor2d(specials(4, 5), [4, SPECIAL.length]);
  const row = (rotate: number) => tf.tensor1d(specials(1, rotate));
  /** A row with the special values but the largest finite ones (±3e38) replaced by 2.5. */
  const moderate = (rotate: number) => tf.tensor1d(specials(1, rotate).map((v) => (Number.isFinite(v) && Math.abs(v) > 1e30 ? 2.5 : v)));
  // [kernel that must answer, computation, bit-exact]: IEEE +, −, ×, ÷ and comparisons give the same
  // bits in float32 as the cpu backend's double-then-round; leaky ReLU's alpha is a double there.
  const cases: [string, string, () => tf.Tensor, boolean][] = [
    ['add', 'Add', () => tf.add(x(), y()), true],
    ['add a per-channel vector', 'Add', () => tf.add(x(), row(3)), true],
    ['add a scalar', 'Add', () => tf.add(x(), tf.scalar(Number.NaN)), true],
    ['sub', 'Sub', () => tf.sub(x(), y()), true],
    ['mul', 'Multiply', () => tf.mul(x(), y()), true],
    ['div', 'RealDiv', () => tf.div(x(), y()), true],
    ['greater and select', 'Select', () => tf.where(tf.greater(x(), y()), x(), y()), true],
    ['square', 'Square', () => tf.square(x()), true],
    ['relu', 'Relu', () => tf.relu(x()), true],
    ['leaky relu', 'LeakyRelu', () => tf.leakyRelu(x(), 0.2), false],
    ['sum over rows', 'Sum', () => tf.sum(x(), 0), true],
    ['mean over rows', 'Mean', () => tf.mean(x(), 0), false],
    // The one difference: the kernel folds scale / √(variance + ε) into one float32 factor, which
    // overflows to ∞ where tfjs's double arithmetic does not (a scale near 3e38 over a variance
    // below 1), and then a zero x − mean gives NaN where tfjs gives the offset. Scales that large
    // are left out here; every NaN and infinity of the inputs still comes out as tfjs gives it.
    ['batch norm, special inputs', 'FusedBatchNorm', () => tf.batchNorm(x(), row(2), tf.abs(row(3)), row(4), moderate(6), 1e-3), false],
  ];

  it.each(VARIANTS.flatMap((variant) => cases.map(([label, kernel, f, exact]) => [variant, label, kernel, f, exact] as const)))(
    '%s: %s',
    async (variant, label, kernel, f, exact) => {
      await check(variant, label, f, exact, kernel);
    },
  );

  /** Non-finite values planted among ordinary ones: NaN, +∞ and −∞ at a few fixed places. */
  const planted = (shape: number[], seed: number) => {
    const v = values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    );
    [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].forEach((special, i) => {
      v[Math.floor(((i + 1) * v.length) / 5)] = special;
    });
    return tf.tensor(v, shape);
  };
  /** The filter gradient of a 'same' convolution (tfjs has no public op for it). */
  const filterGradient = (x: tf.Tensor, dy: tf.Tensor, filterShape: number[], strides: number): tf.Tensor =>
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      strides,
      pad: 'same',
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      filterShape,
    } as unknown as tf.NamedAttrMap);
  /** Which values are NaN, +∞, −∞ or finite. */
  const kinds = (a: Float32Array) => Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? 'finite' : String(v)));

  // [label, kernel, GEMM form, computation]
  const products: [string, string, () => tf.Tensor][] = [
    ['matMul', 'BatchMatMul', () => tf.matMul(planted([5, 11], 1), tf.tensor2d(values(66, 2), [11, 6]))],
    ['matMul, transposed', 'BatchMatMul', () => tf.matMul(tf.tensor2d(values(66, 2), [11, 6]), planted([5, 11], 1), true, true)],
    [
      'the gathered filter gradient (3x3, 16 channels)',
      'Conv2DBackpropFilter',
      () => filterGradient(planted([2, 6, 6, 16], 3), tf.tensor4d(values(2 * 6 * 6 * 5, 4), [2, 6, 6, 5]), [3, 3, 16, 5], 1),
    ],
  ];
  it.each(VARIANTS.flatMap((variant) => products.map(([label, kernel, f]) => [variant, label, kernel, f] as const)))(
    '%s: %s: NaN, +∞ and −∞ where the cpu backend has them',
    async (variant, label, kernel, f) => {
      const expected = await on('cpu', () => tf.tidy(f));
      const { result, runs } = await withTrainingKernels(variant, () => on('wasm', () => tf.tidy(f)));
      expect(runs.ran(kernel)).toBeGreaterThan(0);
      expect(kinds(result), label).toEqual(kinds(expected));
    },
  );

  // Winograd's transforms subtract transformed inputs before the products, so an infinity can come
  // out as NaN (∞ − ∞) where the direct form gives ∞: the outputs that are not finite are the same,
  // their kinds may differ. Nothing that is NaN or infinite with tfjs comes out finite.
  const winograd: [string, string, () => tf.Tensor][] = [
    [
      'the strided convolution',
      'Conv2D',
      () => tf.conv2d(planted([2, 8, 8, 8], 5) as tf.Tensor4D, tf.tensor4d(values(4 * 4 * 8 * 12, 6), [4, 4, 8, 12]), 2, 'same'),
    ],
    [
      'the transposed convolution',
      'Conv2DBackpropInput',
      () =>
        tf.conv2dTranspose(
          planted([2, 4, 4, 12], 7) as tf.Tensor4D,
          tf.tensor4d(values(4 * 4 * 8 * 12, 6), [4, 4, 8, 12]),
          [2, 8, 8, 8],
          2,
          'same',
        ),
    ],
    [
      'the strided filter gradient',
      'Conv2DBackpropFilter',
      () => filterGradient(planted([2, 8, 8, 8], 8), tf.tensor4d(values(2 * 4 * 4 * 12, 9), [2, 4, 4, 12]), [4, 4, 8, 12], 2),
    ],
  ];
  it.each(VARIANTS.flatMap((variant) => winograd.map(([label, kernel, f]) => [variant, label, kernel, f] as const)))(
    '%s: %s (Winograd): not finite exactly where the cpu backend is not',
    async (variant, label, kernel, f) => {
      const expected = await on('cpu', () => tf.tidy(f));
      const { result, runs } = await withTrainingKernels(variant, () => on('wasm', () => tf.tidy(f)));
      expect(runs.ran(kernel)).toBeGreaterThan(0);
      const finite = (k: string[]) => k.map((kind) => kind === 'finite');
      expect(kinds(expected)).toContain('NaN');
      expect(finite(kinds(result)), label).toEqual(finite(kinds(expected)));
    },
  );
});
