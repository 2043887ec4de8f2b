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
