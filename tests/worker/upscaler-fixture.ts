/**
 * Tiny model versions with a learned upscaler, for tests in Node and in workerd alike (only core and
 * web APIs): a fixture generator (fixtures.ts) plus an upscaler with random but deterministic weights
 * (sfc32 from a seed) and the manifest's `upscaler` entry. The pinned bytes below are checked in both
 * runtimes (tests/core/upscaler.test.ts and tests/worker/upscaler.test.ts), so they prove the two agree.
 */
import { type Manifest, type ModelConfig, type NamedWeight, Sfc32, buildManifest } from '@gan/core';
import { UPSCALER_WEIGHTS_FILE, type UpscalerConfig, upscalerKernelShapes, upscalerLayerNames } from '@gan/core/upscaler';
import { encodeUpscalerFiles } from '@gan/core/upscaler-files';
import { BLOBS_CONFIG, buildFixture } from './fixtures.ts';

/** Random upscaler weights of the config's shapes. */
export function randomUpscalerWeights(config: UpscalerConfig, seed: string): NamedWeight[] {
  const rng = Sfc32.fromSeed(seed);
  const shapes = upscalerKernelShapes(config);
  return upscalerLayerNames(config).flatMap((layer, i) => {
    const [h, w, cin, cout] = shapes[i];
    const fanIn = h * w * cin;
    return [
      { name: `${layer}/kernel`, shape: shapes[i], data: rng.fillNormal(new Float32Array(fanIn * cout), Math.sqrt(2 / fanIn)) },
      { name: `${layer}/bias`, shape: [cout], data: rng.fillNormal(new Float32Array(cout), 0.05) },
    ];
  });
}

export interface UpscaledFixtureOptions {
  name: string;
  version: string;
  config: ModelConfig;
  /** The generator's weights seed: the same as a plain fixture's gives the same generator. */
  weightsSeed: string;
  widths: number[];
  isDefault: boolean;
}

/** A fixture version with an `upscaler` entry: files and manifest. */
export async function buildUpscaledFixture(
  options: UpscaledFixtureOptions,
): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const plain = await buildFixture({ ...options });
  const architecture: UpscalerConfig = { scale: 4, channels: 3, inputSize: options.config.imageSize, widths: options.widths };
  const files = new Map(plain.files);
  for (const [path, bytes] of encodeUpscalerFiles(architecture, randomUpscalerWeights(architecture, `${options.name}/upscaler`)))
    files.set(path, bytes);
  const { formatVersion, imageSize, channels, latentSize, files: _files, ...fields } = plain.manifest;
  const manifest = await buildManifest(
    { ...fields, upscaler: { weights: UPSCALER_WEIGHTS_FILE, architecture, source: 'fixture@random', default: options.isDefault } },
    files,
  );
  return { manifest, files };
}

/** `ublobs@x4` (learned on request) and `ublobs@x4-default` (learned by default): the same generator and upscaler. */
export const UPSCALED_FIXTURES: UpscaledFixtureOptions[] = [
  { name: 'ublobs', version: 'x4', config: BLOBS_CONFIG, weightsSeed: 'upscaled-blobs', widths: [6, 4], isDefault: false },
  { name: 'ublobs', version: 'x4-default', config: BLOBS_CONFIG, weightsSeed: 'upscaled-blobs', widths: [6, 4], isDefault: true },
];

/** The same generator without an upscaler. */
export const PLAIN_BLOBS = { name: 'ublobs', version: 'plain', config: BLOBS_CONFIG, weightsSeed: 'upscaled-blobs' };

/**
 * Requests of `ublobs@x4` whose bytes are pinned, in Node (core's render pipeline) and in workerd (the
 * worker). Regenerate only with a deliberate change to the upscaler (and then as a new version in real use).
 */
export const UPSCALED_GOLDEN: [path: string, sha256: string][] = [
  ['/v1/models/ublobs@x4/image.png?seed=golden&size=64&filter=learned', 'ec0b36b898d4a456cb630c6ea089df525551c44c82454f233e80f838f1425d7e'],
  ['/v1/models/ublobs@x4/image.png?seed=golden&size=40&filter=learned', '2529e5216030835025da5cd333c3078966b4d25a6d1d9babeb14a7189059195f'],
  [
    '/v1/models/ublobs@x4/grid.png?seed=golden&rows=2&cols=2&size=64&filter=learned',
    '98447eb98dc25aa8b30ef7519eae8a6dd137bddcb6b40b487bb4087917df44ff',
  ],
  ['/v1/models/ublobs@x4-default/image.png?seed=golden&size=64', 'ec0b36b898d4a456cb630c6ea089df525551c44c82454f233e80f838f1425d7e'],
];
