/**
 * Hand-made colour and gradient statistics of an emoji image, fed to the style judge beside its CNN
 * features: what tells the eight styles apart is mostly palette, flat against shaded fills and
 * outline weight, which a small CNN at 32 px learns slowly from 10 000 images.
 *
 * Computed on the drawing only (pixels that differ from the white background), each a share of the
 * drawing's pixels, square-rooted (the Hellinger map: small shares are spread out, as histograms
 * compare best):
 *
 *   joint RGB histogram, 4×4×4 bins                                         64
 *   hue histogram (12 bins, weighted by saturation), saturation and value (8 each)   28
 *   histogram of the largest neighbour difference (flat fills ≈ 0, shading small, outlines large)  8
 *   dark pixels (value < 0.15, < 0.3), dark pixels on the drawing's rim, distinct colours   4
 *   mean and standard deviation of R, G, B; drawing's share of the image        7
 *                                                                               ---
 *                                                                               111
 *
 * Version `colour-gradient-v1`: a change to any of it is a new version (the judge records which).
 * `colour-gradient-v2` adds a finer palette: the joint RGB histogram in 8×8×8 bins (512 more, same
 * map); alone, through two dense layers, v1 gets 87.8 % of the held-out renders right and v2 90.1 %.
 */
export const STATISTICS_VERSIONS = { 'colour-gradient-v1': 111, 'colour-gradient-v2': 111 + 512 } as const;
export type StatisticsVersion = keyof typeof STATISTICS_VERSIONS;
export const STATISTICS_VERSION: StatisticsVersion = 'colour-gradient-v1';
export const STATISTICS_SIZE = 111;

/** The version whose statistics have `size` values (a judge's second input says which it reads). */
export function statisticsVersionOfSize(size: number): StatisticsVersion {
  const found = (Object.keys(STATISTICS_VERSIONS) as StatisticsVersion[]).find((v) => STATISTICS_VERSIONS[v] === size);
  if (!found) throw new RangeError(`no statistics version has ${size} values`);
  return found;
}

/** The statistics of one version: v1's, and for v2 the fine palette after them. */
export function statisticsOf(version: StatisticsVersion, images: Float32Array, count: number, imageSize: number): Float32Array {
  const v1 = styleStatistics(images, count, imageSize);
  if (version === 'colour-gradient-v1') return v1;
  const width = STATISTICS_VERSIONS[version];
  const out = new Float32Array(count * width);
  const n = imageSize * imageSize;
  const bin = (v: number) => Math.min(7, Math.floor(((v + 1) / 2) * 8));
  for (let i = 0; i < count; i++) {
    const row = out.subarray(i * width, (i + 1) * width);
    row.set(v1.subarray(i * STATISTICS_SIZE, (i + 1) * STATISTICS_SIZE));
    const palette = row.subarray(STATISTICS_SIZE);
    let drawn = 0;
    for (let p = 0; p < n; p++) {
      const at = (i * n + p) * 3;
      // The same drawing mask as v1: 1 − min(r, g, b) > 0.06 in [0, 1].
      if (1 - (Math.min(images[at], images[at + 1], images[at + 2]) + 1) / 2 <= 0.06) continue;
      drawn++;
      palette[bin(images[at]) * 64 + bin(images[at + 1]) * 8 + bin(images[at + 2])]++;
    }
    for (let k = 0; k < 512; k++) palette[k] = Math.sqrt(palette[k] / Math.max(drawn, 1));
  }
  return out;
}

const GRADIENT_EDGES = [0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.65];

/** The statistics of `count` images [S, S, 3] in [-1, 1] (NHWC, row-major) → [count, STATISTICS_SIZE]. */
export function styleStatistics(images: Float32Array, count: number, imageSize: number): Float32Array {
  const out = new Float32Array(count * STATISTICS_SIZE);
  const n = imageSize * imageSize;
  const r = new Float32Array(n);
  const g = new Float32Array(n);
  const b = new Float32Array(n);
  const fg = new Uint8Array(n);
  for (let img = 0; img < count; img++) {
    const base = img * n * 3;
    let fgCount = 0;
    for (let p = 0; p < n; p++) {
      r[p] = (images[base + p * 3] + 1) / 2;
      g[p] = (images[base + p * 3 + 1] + 1) / 2;
      b[p] = (images[base + p * 3 + 2] + 1) / 2;
      fg[p] = 1 - Math.min(r[p], g[p], b[p]) > 0.06 ? 1 : 0;
      fgCount += fg[p];
    }
    const f = out.subarray(img * STATISTICS_SIZE, (img + 1) * STATISTICS_SIZE);
    const share = fgCount > 0 ? 1 / fgCount : 0;
    const colours = new Set<number>();
    let sr = 0;
    let sg = 0;
    let sb = 0;
    let qr = 0;
    let qg = 0;
    let qb = 0;
    let dark15 = 0;
    let dark30 = 0;
    let rim = 0;
    let rimDark = 0;
    for (let y = 0; y < imageSize; y++)
      for (let x = 0; x < imageSize; x++) {
        const p = y * imageSize + x;
        if (!fg[p]) continue;
        const [R, G, B] = [r[p], g[p], b[p]];
        const bin = (v: number, bins: number) => Math.min(bins - 1, Math.floor(v * bins));
        f[bin(R, 4) * 16 + bin(G, 4) * 4 + bin(B, 4)] += share;
        const max = Math.max(R, G, B);
        const min = Math.min(R, G, B);
        const sat = max > 0 ? (max - min) / max : 0;
        let hue = 0;
        if (max > min) {
          if (max === R) hue = ((G - B) / (max - min) + 6) % 6;
          else if (max === G) hue = (B - R) / (max - min) + 2;
          else hue = (R - G) / (max - min) + 4;
        }
        f[64 + bin(hue / 6, 12)] += share * sat;
        f[76 + bin(sat, 8)] += share;
        f[84 + bin(max, 8)] += share;
        // Largest difference to a 4-neighbour (the background counts: an outline's edge is large).
        let grad = 0;
        for (const [dy, dx] of [
          [0, 1],
          [1, 0],
          [0, -1],
          [-1, 0],
        ]) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= imageSize || xx < 0 || xx >= imageSize) continue;
          const q = yy * imageSize + xx;
          grad = Math.max(grad, Math.abs(r[q] - R), Math.abs(g[q] - G), Math.abs(b[q] - B));
          if (!fg[q]) {
            rim++;
            if (max < 0.3) rimDark++;
          }
        }
        let gb = 0;
        while (gb < GRADIENT_EDGES.length && grad >= GRADIENT_EDGES[gb]) gb++;
        f[92 + gb] += share;
        if (max < 0.15) dark15++;
        if (max < 0.3) dark30++;
        colours.add((Math.round(R * 31) << 10) | (Math.round(G * 31) << 5) | Math.round(B * 31));
        sr += R;
        sg += G;
        sb += B;
        qr += R * R;
        qg += G * G;
        qb += B * B;
      }
    f[100] = dark15 * share;
    f[101] = dark30 * share;
    f[102] = rim > 0 ? rimDark / rim : 0;
    f[103] = colours.size * share;
    const mean = [sr * share, sg * share, sb * share];
    const sq = [qr * share, qg * share, qb * share];
    for (let c = 0; c < 3; c++) {
      f[104 + c] = mean[c];
      f[107 + c] = Math.sqrt(Math.max(sq[c] - mean[c] * mean[c], 0));
    }
    f[110] = fgCount / n;
    for (let k = 0; k < 104; k++) f[k] = Math.sqrt(f[k]);
  }
  return out;
}
