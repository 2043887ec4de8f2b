import type { ImageNetExtractor } from '@gan/trainer/evaluate/imagenet';

/**
 * A stand-in for MobileNetV2 in evaluations: each image's mean colour and mean square as 4 "features",
 * enough to tell images apart by colour and brightness, and cheap. Channels beyond 3 are left out.
 */
export function colourExtractor(inputSize = 8): ImageNetExtractor {
  return {
    id: 'test-mean-colour',
    version: '000000000000',
    source: 'test',
    inputSize,
    featureSize: 4,
    extract(images, count, size, channels) {
      const out = new Float32Array(count * 4);
      const px = size * size;
      for (let i = 0; i < count; i++) {
        let sq = 0;
        for (let p = 0; p < px; p++)
          for (let c = 0; c < Math.min(channels, 3); c++) {
            const v = images[(i * px + p) * channels + c];
            out[i * 4 + c] += v / px;
            sq += (v * v) / (px * channels);
          }
        out[i * 4 + 3] = sq;
      }
      return out;
    },
    dispose() {},
  };
}
