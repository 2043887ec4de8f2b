import * as tf from '@tensorflow/tfjs-core';
import { type ModelConfig, FastGenerator, generatorChannels, generatorInput, latentFromSeed } from '@gan/core';
import { generatorLayerNames } from '@gan/core/config';
import type { PublishOptions } from './fixtures.ts';

/**
 * Requests whose PNG bytes are pinned. The fixtures' weights are deterministic, so these hashes hold
 * in every isolate, on every run: two test files (two separate workerd runtimes) check them.
 * A change to seed → latent, the generator maths or PNG encoding changes them, and should be deliberate.
 * tests/worker/determinism.test.ts also decodes each of them with a second decoder (UPNG, not the
 * fast-png that encodes them) and checks it reads the same pixels; tests/trainer/cli.test.ts checks
 * that `gan sample` writes the same bytes.
 *
 * Regenerating: only when one of those changes is intended (a new PRNG step, a new resize filter, a
 * different PNG encoder or compression level), never to make a refactoring pass — a refactoring that
 * moves these hashes has changed what every published URL returns. Run
 * `npx vitest run --project worker tests/worker/determinism.test.ts`, copy each "expected" hash the
 * failures print into the table below, look at the new images (the failing paths, in `npm run dev`),
 * and say in the commit that every seeded URL now returns other bytes.
 */
export const GOLDEN: [path: string, sha256: string][] = [
  ['/v1/models/digits/image.png?seed=golden&class=two', '5f85a3009e1a8eb283267c035f5c4fd88aaaebd1d1f01cbbe551ef63e9f21354'],
  ['/v1/models/blobs/image.png?seed=golden&size=50&truncation=0.7', 'dade350bd62ce413acaaaaab068441f09058c0ed10e2a942abafc79d6c0a9770'],
  ['/v1/models/digits/grid.png?seed=golden&class=each&cols=3', '24c5ebef59e6833cc76f5e1a465e6bce1605c2258642a4f4e0943f74c9aeda61'],
  [
    '/v1/models/blobs/grid.png?seed=golden&rows=5&cols=5&size=24&filter=nearest',
    '35e0c70d9e6a8acfdfde833c0533fcf9f9c44bdd965229c8baf7928e8bee7df1',
  ],
];

/**
 * A float16 export, as the shipped models are (`gan export --float16`): half-precision weights take
 * another decoding path. Checked in the worker (determinism.test.ts) and against `gan sample`
 * (tests/trainer/cli.test.ts), which must write the same bytes.
 */
export const FLOAT16_FIXTURE: PublishOptions = {
  name: 'digits16',
  version: 'v1',
  config: { imageSize: 16, channels: 1, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 },
  classes: ['zero', 'one', 'two'],
  float16: true,
};

export const GOLDEN_FLOAT16: [path: string, sha256: string][] = [
  ['/v1/models/digits16/image.png?seed=golden&class=one', '9ae7281197a7d25ce4d4bdde38c540ca1748dabac453c0dd9426fd7ee22dc3b4'],
  [
    '/v1/models/digits16/image.png?seed=golden&size=40&truncation=0.8&filter=nearest',
    '71526722b3c2ba59dcb61351838ae728f4fed6ecbf4e78595b4e9472c4e2ea79',
  ],
];

/**
 * A generator with class-conditional batch norm (`gan train --generator-conditioning batch-norm`): a
 * per-class gamma and beta after each batch norm, served as a per-sample affine. A grid of every class
 * puts three classes in one batch. Checked like the float16 fixture, in the worker and against `gan sample`.
 */
export const CLASS_BATCH_NORM_FIXTURE: PublishOptions = {
  name: 'digitscbn',
  version: 'v1',
  config: {
    imageSize: 16,
    channels: 3,
    latentSize: 8,
    generatorWidth: 8,
    discriminatorWidth: 4,
    numClasses: 3,
    generatorConditioning: 'batch-norm',
  },
  classes: ['zero', 'one', 'two'],
  float16: true,
};

export const GOLDEN_CLASS_BATCH_NORM: [path: string, sha256: string][] = [
  ['/v1/models/digitscbn/image.png?seed=golden&class=one', '316bdc5d7fee92ca4492e63c642a2615ab93e5206e3b9108aa9a930677f4df5e'],
  ['/v1/models/digitscbn/grid.png?seed=golden&class=each&cols=3', 'bba60fa0bada8f3151c535172fc48a7bad3f982396448d9ea54503e57b5d3224'],
];

/**
 * A generator wide enough that its first layer runs Winograd's form of GanSubPixelConv (16+ output
 * channels) and its image layer im2col: the sha256 of its raw output floats is pinned, and checked
 * inside workerd (tests/worker/backend.test.ts: the bundled plain-SIMD module, tiles loading A as one
 * vector) and in Node (tests/core/gemm-kernels.test.ts: the module read from disk, four loads), so
 * the two compute the same bits on layers the fixture models above are too narrow to reach.
 * Regenerating: as for GOLDEN, only for an intended change of the generator's arithmetic.
 */
export const GOLDEN_WIDE_FORWARD = 'd5a86050fdb9202e609f63f65c7be2c66eb6c45024dd4adafe48e251e42f3c74';

/** The sha256 of the wide generator's output floats for three seeds, on the active backend and kernels. */
export async function wideForwardSha256(): Promise<string> {
  const config: ModelConfig = { imageSize: 16, channels: 3, latentSize: 6, generatorWidth: 16, discriminatorWidth: 4, numClasses: 0 };
  const names = generatorLayerNames(config);
  const channels = generatorChannels(config);
  let s = 0x2545f491;
  const next = () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    return ((s >>> 8) / (1 << 24)) * 2 - 1;
  };
  const weights: tf.NamedTensorMap = {};
  [names.project, ...names.hidden, names.output].forEach((layer, i) => {
    const cin = i === 0 ? config.latentSize : channels[i - 1];
    const cout = channels[i];
    weights[`${layer}/kernel`] = tf.tensor4d(
      Float32Array.from({ length: 16 * cout * cin }, () => 0.2 * next()),
      [4, 4, cout, cin],
    );
    if (layer === names.output) return;
    for (const [w, centre] of [
      ['gamma', 1],
      ['beta', 0],
      ['moving_mean', 0],
      ['moving_variance', 1],
    ] as const) {
      weights[`${names.bn(layer)}/${w}`] = tf.tensor1d(Float32Array.from({ length: cout }, () => centre + 0.1 * Math.abs(next())));
    }
  });
  const generator = FastGenerator.fromWeights(config, weights);
  tf.dispose(Object.values(weights));
  try {
    const input = generatorInput(
      config,
      ['wide-a', 'wide-b', 'wide-c'].map((seed) => latentFromSeed(seed, config.latentSize)),
    );
    const output = tf.tidy(() => generator.forward(input));
    const bytes = new Uint8Array(Float32Array.from(await output.data()).buffer);
    tf.dispose([input, output]);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  } finally {
    generator.dispose();
  }
}
