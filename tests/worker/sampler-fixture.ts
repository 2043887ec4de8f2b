/**
 * Tiny model versions with candidate sampling, for tests in Node and in workerd alike (only core and
 * web APIs): a fixture generator (fixtures.ts) plus a scorer with random but deterministic weights
 * (sfc32 from a seed) and the manifest's `sampling` section. The pinned picks and bytes below are
 * checked in both runtimes (tests/core/sampler.test.ts and tests/worker/sampler.test.ts), so they
 * prove the two pick alike.
 */
import {
  type Manifest,
  type ModelConfig,
  type NamedWeight,
  SCORER_JSON,
  type ScorerArchitecture,
  Sfc32,
  buildManifest,
  encodeScorerFiles,
  scorerChannels,
  scorerFeatureSize,
} from '@gan/core';
import { registryKeys } from '@gan/registry/layout';
import { BLOBS_CONFIG, DIGITS_CLASSES, DIGITS_CONFIG, type WritableBucket, buildFixture, setCurrent } from './fixtures.ts';

/** Random scorer weights of the shapes the scorer's architecture has, named as model.ts names D's. */
export function randomScorerWeights(a: ScorerArchitecture, seed: string): NamedWeight[] {
  const rng = Sfc32.fromSeed(seed);
  const normal = (n: number, scale: number) => rng.fillNormal(new Float32Array(n), scale);
  const weights: NamedWeight[] = [];
  let cin: number = a.channels;
  scorerChannels(a).forEach((cout, i) => {
    weights.push({ name: `down${i + 1}/kernel`, shape: [4, 4, cin, cout], data: normal(16 * cin * cout, 0.3) });
    weights.push({ name: `down${i + 1}/bias`, shape: [cout], data: normal(cout, 0.1) });
    cin = cout;
  });
  const features = scorerFeatureSize(a);
  weights.push({ name: 'score/kernel', shape: [4, 4, cin, 1], data: normal(features, 0.2) });
  weights.push({ name: 'score/bias', shape: [1], data: normal(1, 0.1) });
  if (a.numClasses > 0)
    weights.push({ name: 'class_embedding/kernel', shape: [a.numClasses, features], data: normal(a.numClasses * features, 0.2) });
  return weights;
}

export interface SampledFixtureOptions {
  name: string;
  version: string;
  config: ModelConfig;
  classes?: string[];
  candidates: number;
  /** The generator's weights seed: the same as a plain fixture's gives the same generator. */
  weightsSeed: string;
  scorerWidth?: number;
}

/** A fixture version with `sampling`: files and manifest. */
export async function buildSampledFixture(options: SampledFixtureOptions): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const { config } = options;
  const plain = await buildFixture({ ...options });
  const architecture: ScorerArchitecture = {
    imageSize: config.imageSize,
    channels: config.channels,
    width: options.scorerWidth ?? 2,
    numClasses: config.numClasses,
  };
  const files = new Map(plain.files);
  for (const [path, bytes] of encodeScorerFiles(
    architecture,
    { fixture: true },
    randomScorerWeights(architecture, `${options.name}/scorer`),
  ))
    files.set(path, bytes);
  const { formatVersion, imageSize, channels, latentSize, files: _files, ...fields } = plain.manifest;
  const manifest = await buildManifest(
    { ...fields, sampling: { candidates: options.candidates, scorer: { file: SCORER_JSON, architecture } } },
    files,
  );
  return { manifest, files };
}

/** The generator of `digits@v1`/`blobs@v1` (fixtures.ts's standard fixtures), with K candidates. */
export const SAMPLED_FIXTURES: SampledFixtureOptions[] = [
  { name: 'sdigits', version: 'k4', config: DIGITS_CONFIG, classes: DIGITS_CLASSES, candidates: 4, weightsSeed: 'sampled-digits' },
  { name: 'sdigits', version: 'k1', config: DIGITS_CONFIG, classes: DIGITS_CLASSES, candidates: 1, weightsSeed: 'sampled-digits' },
  { name: 'sblobs', version: 'k3', config: BLOBS_CONFIG, candidates: 3, weightsSeed: 'sampled-blobs' },
  { name: 'sdigits', version: 'k8', config: DIGITS_CONFIG, classes: DIGITS_CLASSES, candidates: 8, weightsSeed: 'sampled-digits' },
];

/** The plain version with the same generator as the K = 1 one (no `sampling` at all). */
export const PLAIN_DIGITS = {
  name: 'sdigits',
  version: 'plain',
  config: DIGITS_CONFIG,
  classes: DIGITS_CLASSES,
  weightsSeed: 'sampled-digits',
};

/** Writes a version's files and manifest to the bucket (current.json too when asked). */
export async function publishFiles(
  bucket: WritableBucket,
  published: { manifest: Manifest; files: Map<string, Uint8Array> },
  makeCurrent = false,
): Promise<void> {
  const { name, version } = published.manifest;
  for (const [path, bytes] of published.files) await bucket.put(registryKeys.file(name, version, path), bytes);
  await bucket.put(registryKeys.manifest(name, version), JSON.stringify(published.manifest));
  if (makeCurrent) await setCurrent(bucket, name, version);
}

/**
 * Requests of the sampled fixtures whose bytes are pinned, in Node (through core's render pipeline)
 * and in workerd (through the worker): `sdigits@k4` and `sblobs@k3` pick among candidates.
 * Regenerate only with a deliberate change to sampling (and then as a new version in real use).
 */
export const SAMPLED_GOLDEN: [path: string, sha256: string][] = [
  ['/v1/models/sdigits@k4/image.png?seed=golden&class=2', '80bc99846925fbeae40e3be535014f5b0a0252b62577ff5fa606e597632f3ce4'],
  [
    '/v1/models/sdigits@k4/image.png?seed=golden&class=1&size=40&truncation=0.7',
    'f337d99c3415cbe3ae5e5d3a75f01c61de804bdefa6081fcd557baccc24e1f4e',
  ],
  ['/v1/models/sdigits@k4/grid.png?seed=golden&class=0&rows=2&cols=4', '953b7c33d16eb66701c8d9d7d20bfc81042124e6d949e5ae45b6909548cf0a8f'],
  ['/v1/models/sblobs@k3/image.png?seed=golden', '54f9008aa960368115e301bf4292201e3d23df08e86961a65e1203ce82c108c3'],
  ['/v1/models/sblobs@k3/grid.png?seed=golden&rows=3&cols=3&size=24', '4d6e31919d5959fb0a2d9205c07f8138dad5356b657cd14735d5820f4531d5cf'],
];

/** Picks (candidate index per cell) of `sdigits@k4` for cells `golden#0…7` of class i % 3, pinned. */
export const PINNED_PICKS: number[] = [0, 2, 2, 3, 0, 2, 0, 2];
