/**
 * Snapping an icon's drawn pixels to a few colours (k-means), a change a viewer hardly sees at 32 px
 * that moves colour statistics a lot. The style judge can train with it (a random palette size on
 * some of its training images) so that a palette snap does not pass for a better drawing, and
 * bench/palette-snap.ts shows how far a judge moves with it.
 */

/** A pixel whose every channel is above this ([-1, 1]) is the white page, not part of the drawing. */
const PAGE = 0.88;
const ROUNDS = 15;

/** Snaps one image's drawn pixels ([S·S·3] in [-1, 1], in place) to `k` colours: k-means from luminance quantiles. */
export function snapToPalette(image: Float32Array, k: number): Float32Array {
  const pixels = image.length / 3;
  const drawn: number[] = [];
  for (let p = 0; p < pixels; p++) if (Math.min(image[p * 3], image[p * 3 + 1], image[p * 3 + 2]) < PAGE) drawn.push(p);
  if (drawn.length < k) return image;
  const luminance = (p: number) => image[p * 3] + image[p * 3 + 1] + image[p * 3 + 2];
  const byLuminance = [...drawn].sort((a, b) => luminance(a) - luminance(b));
  let centres = Array.from({ length: k }, (_, j) => {
    const p = byLuminance[Math.floor(((j + 0.5) / k) * byLuminance.length)];
    return [image[p * 3], image[p * 3 + 1], image[p * 3 + 2]];
  });
  const nearest = new Int32Array(drawn.length);
  for (let round = 0; round < ROUNDS; round++) {
    drawn.forEach((p, i) => {
      let best = 0;
      let bestDistance = Number.POSITIVE_INFINITY;
      centres.forEach((c, j) => {
        const d = (image[p * 3] - c[0]) ** 2 + (image[p * 3 + 1] - c[1]) ** 2 + (image[p * 3 + 2] - c[2]) ** 2;
        if (d < bestDistance) {
          bestDistance = d;
          best = j;
        }
      });
      nearest[i] = best;
    });
    const sums = centres.map(() => [0, 0, 0, 0]);
    drawn.forEach((p, i) => {
      const s = sums[nearest[i]];
      for (let c = 0; c < 3; c++) s[c] += image[p * 3 + c];
      s[3]++;
    });
    centres = sums.map((s, j) => (s[3] > 0 ? [s[0] / s[3], s[1] / s[3], s[2] / s[3]] : centres[j]));
  }
  drawn.forEach((p, i) => {
    image.set(centres[nearest[i]], p * 3);
  });
  return image;
}
