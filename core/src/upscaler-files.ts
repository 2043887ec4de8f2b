/**
 * An upscaler's weight files, as its export and a model version that ships it hold them:
 * `upscaler.json` (tfjs's weightsManifest form, with the architecture) and its float32 shard(s)
 * `upscaler-group1-shardKofN.bin`. Pure, no file system: the trainer's export and the tests' fixtures
 * write the same bytes.
 */
import { type NamedWeight, encodeWeightShards } from './export-format.ts';
import { UPSCALER_SHARD_PREFIX, UPSCALER_WEIGHTS_FILE, type UpscalerConfig, upscalerKernelShapes, upscalerLayerNames } from './upscaler.ts';

/** File name → bytes. `weights` must hold every layer's kernel and bias (upscalerLayerNames). */
export function encodeUpscalerFiles(config: UpscalerConfig, weights: readonly NamedWeight[]): Map<string, Uint8Array> {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const shapes = upscalerKernelShapes(config);
  const ordered = upscalerLayerNames(config).flatMap((layer, i) =>
    (['kernel', 'bias'] as const).map((part) => {
      const w = byName.get(`${layer}/${part}`);
      const shape = part === 'kernel' ? shapes[i] : [shapes[i][3]];
      if (!w || w.shape.join() !== shape.join()) throw new RangeError(`${layer}/${part} must be [${shape}]`);
      return w;
    }),
  );
  const { weightsManifest, shards } = encodeWeightShards(ordered);
  const json = {
    format: 'gan-upscaler',
    generatedBy: 'gan-edge',
    architecture: config,
    weightsManifest: weightsManifest.map((g) => ({ ...g, paths: g.paths.map((p) => `${UPSCALER_SHARD_PREFIX}${p}`) })),
  };
  const files = new Map<string, Uint8Array>([[UPSCALER_WEIGHTS_FILE, new TextEncoder().encode(JSON.stringify(json))]]);
  for (const s of shards) files.set(`${UPSCALER_SHARD_PREFIX}${s.path}`, s.bytes);
  return files;
}
