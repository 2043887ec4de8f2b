/**
 * Walks and morph strips whose bytes are pinned, like golden.ts for images: the fixtures' weights
 * are deterministic, so these hold in every isolate and in `gan walk` (tests/trainer/walk.test.ts).
 * tests/worker/walk.test.ts and walk-determinism.test.ts (two workerd runtimes) check them.
 * A change to seed → latent, the interpolation (slerp), the generator maths, the palette choice or
 * the GIF/PNG encoder changes them, and should be deliberate.
 *
 * Regenerating: only for such an intended change, never to make a refactoring pass. Run
 * `npx vitest run --project worker tests/worker/walk-determinism.test.ts`, copy each "expected" hash
 * the failures print into the table below, look at the new walks (the failing paths, in
 * `npm run dev`), and say in the commit that every seeded walk URL now returns other bytes.
 */
export const GOLDEN_WALKS: [path: string, sha256: string][] = [
  ['/v1/models/digits/walk.gif?seed=golden&class=each', '934ab215c4b1d8653a35fb23b7b3572336cb3327407e07a7a90a008798160388'],
  [
    '/v1/models/blobs/walk.gif?seed=golden&keys=3&frames=5&fps=20&size=24&truncation=0.8',
    '7c38c820cfab07a44e43819d2f60d1ebaa38af0613bb92fd85d8f50f9bf53506',
  ],
  [
    '/v1/models/digits/morph.png?from=golden&to=walk&class=0&to_class=two&steps=5',
    '5d935b619e4f8c6f2b3af1fc97a8c08841b39a183ea858b319864f6f4649442a',
  ],
  ['/v1/models/blobs/morph.png?from=golden&size=20&padding=0', '6263e2f652158141e5cbbe60c68f139605afe883142be99b51045d58f99bff19'],
];
