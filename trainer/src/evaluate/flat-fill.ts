/**
 * Flat fill: the share of an icon's drawn pixels whose right and lower neighbours have the same colour
 * (every channel within FLAT_TOLERANCE). Most emoji styles are flat shapes with outlines (twemoji,
 * noto-v1, fluent-flat, fxemoji: nearly half their drawn pixels at 32 px); shaded ones have gradients
 * (fluent, noto: about a quarter). A generator that textures every surface is read as a shaded style
 * whatever it is asked for, and this says so in pixels, with the real renders' share beside it.
 *
 * A pixel statistic, not a network: nothing trains against it, and it is reported next to the judge's
 * figures, never instead of them.
 */

/** Largest difference, on a 0–1 scale, between a pixel and a neighbour that still counts as the same colour (~5 of 255 levels). */
export const FLAT_TOLERANCE = 0.02;
/** A pixel whose every channel is above this (0–1) is the white background, not part of the icon. */
export const BACKGROUND_LEVEL = 0.94;

export interface FlatFill {
  /** Mean over images of each image's flat-fill share. */
  share: number;
  images: number;
}

/** The flat-fill share of each image of [count, S, S, C] in [-1, 1]; an image with no drawn pixel counts 0. */
export function flatFillShares(images: Float32Array, count: number, size: number, channels: number): Float32Array {
  const shares = new Float32Array(count);
  const at = (i: number, y: number, x: number, c: number) => (images[((i * size + y) * size + x) * channels + c] + 1) / 2;
  for (let i = 0; i < count; i++) {
    let drawn = 0;
    let flat = 0;
    for (let y = 0; y < size - 1; y++)
      for (let x = 0; x < size - 1; x++) {
        let background = true;
        let step = 0;
        for (let c = 0; c < channels; c++) {
          const v = at(i, y, x, c);
          if (v <= BACKGROUND_LEVEL) background = false;
          step = Math.max(step, Math.abs(v - at(i, y, x + 1, c)), Math.abs(v - at(i, y + 1, x, c)));
        }
        if (background) continue;
        drawn++;
        if (step <= FLAT_TOLERANCE) flat++;
      }
    shares[i] = drawn ? flat / drawn : 0;
  }
  return shares;
}

/** The mean flat-fill share of the images whose label is `label` (all of them when it is undefined). */
export function flatFill(shares: Float32Array, labels?: ArrayLike<number>, label?: number): FlatFill {
  let sum = 0;
  let n = 0;
  shares.forEach((s, i) => {
    if (label !== undefined && labels?.[i] !== label) return;
    sum += s;
    n++;
  });
  return { share: n ? sum / n : 0, images: n };
}
