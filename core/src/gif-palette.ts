/**
 * A colour frame's ≤ 256-colour palette and its palette indices, giving exactly what gifenc 1.0.3's
 * `quantize(rgba, 256, { format: 'rgb565' })` and `applyPalette(rgba, palette, 'rgb565')` give
 * (tests/core/gif-palette.test.ts compares both with gifenc's on model frames, gradients and noise),
 * only faster. The walks' GIF bytes are pinned (a cached `walk.gif` is immutable), so the palette may
 * not change by one index; only the work done to find it.
 *
 * gifenc's quantiser is pairwise nearest neighbour (PNN) clustering of the frame's rgb555 histogram
 * bins (its "rgb565" key drops green's lowest bit): each bin's nearest neighbour is searched among
 * all later bins, one by one, and searched again after every merge that made it stale. That scan is
 * ~90 % of a colour walk's CPU (~140 ms for one 256-px frame of ~4 000 bins). The scan here visits
 * the same bins in the same order with the same floating-point arithmetic, but skips whole blocks of
 * bins that provably hold no candidate it would take: a block's bounding box of bin colours and its
 * smallest bin weight give a lower bound of every error in it. Skipping needs only a lower bound, so
 * the bounds may be loose (a box only grows as its bins merge) but must never be too high.
 */

/** gifenc's rgb565 key: 5 bits of red (bits 11–15), 5 of green (5–9; bit 10 stays 0), 5 of blue. */
const key565 = (r: number, g: number, b: number) => ((r << 8) & 0xf800) | ((g << 2) & 0x03e0) | (b >> 3);

const KEYS = 65536;
/** gifenc marks a merged-away bin by this "merge time" (bincount − 1, never a real merge count). */
const DELETED = KEYS - 1;
/** Bins per block, and blocks per group, of the pruned search. */
const BLOCK = 16;
const GROUP = 8;
/**
 * A block is skipped only when its lower bound exceeds the best error so far by this factor: the
 * bound and the errors are each a few roundings (≤ 1e-15 relative) away from their exact values.
 */
const SAFE = 1 - 1e-9;

export type Palette = number[][];

// Scratch reused by every call, so a frame costs what its pixels and colours cost, not a fresh
// 65 536-key table: a walk of 256 small frames would spend more on those than on its colours.
// Calls run one at a time and to the end (nothing awaits), and leave the tables as they found them.
/** Per key: red, green and blue sums and the pixel count; all zero between calls. */
const histogram = new Uint32Array(KEYS * 4);
/** Per key: its palette index in applyPaletteRgb; −1 between calls. */
const indexOfKey = new Int16Array(KEYS).fill(-1);
/** The keys a call has touched (at most KEYS / 2: bit 10 of a key is always 0). */
const touched = new Int32Array(KEYS);

/**
 * One frame's histogram bins in key order (gifenc's compacted list) and the boxes that bound them:
 * blocks of BLOCK consecutive bins and groups of GROUP consecutive blocks, each with its live bins,
 * smallest weight and bounding box of colours, refitted after each merge that touches it (box c is
 * block c; box blocks + q is group q). A class, so that its methods keep one identity from frame to
 * frame: closures made per frame would cost V8 a fresh optimisation of the search every frame.
 */
class Bins {
  /** Mean colour and weight of each bin. */
  readonly R: Float64Array;
  readonly G: Float64Array;
  readonly B: Float64Array;
  readonly N: Float64Array;
  /** gifenc's list links, nearest-neighbour error and index, and "times" (merge counts). */
  readonly fw: Int32Array;
  readonly bk: Int32Array;
  readonly err: Float64Array;
  readonly nn: Int32Array;
  readonly tm: Int32Array;
  readonly mtm: Int32Array;
  readonly blocks: number;
  readonly groups: number;
  readonly live: Int32Array;
  readonly minN: Float64Array;
  readonly loR: Float64Array;
  readonly loG: Float64Array;
  readonly loB: Float64Array;
  readonly hiR: Float64Array;
  readonly hiG: Float64Array;
  readonly hiB: Float64Array;

  constructor(readonly count: number) {
    this.R = new Float64Array(count);
    this.G = new Float64Array(count);
    this.B = new Float64Array(count);
    this.N = new Float64Array(count);
    this.fw = new Int32Array(count);
    this.bk = new Int32Array(count);
    this.err = new Float64Array(count);
    this.nn = new Int32Array(count);
    this.tm = new Int32Array(count);
    this.mtm = new Int32Array(count);
    this.blocks = Math.ceil(count / BLOCK);
    this.groups = Math.ceil(this.blocks / GROUP);
    const boxes = this.blocks + this.groups;
    this.live = new Int32Array(boxes);
    this.minN = new Float64Array(boxes);
    this.loR = new Float64Array(boxes);
    this.loG = new Float64Array(boxes);
    this.loB = new Float64Array(boxes);
    this.hiR = new Float64Array(boxes);
    this.hiG = new Float64Array(boxes);
    this.hiB = new Float64Array(boxes);
  }

  /** Links the bins in order and fits every box (once the colours and weights are in). */
  link() {
    for (let i = 0; i < this.count - 1; i++) {
      this.fw[i] = i + 1;
      this.bk[i + 1] = i;
    }
    for (let c = 0; c < this.blocks; c++) this.refitBlock(c);
    for (let q = 0; q < this.groups; q++) this.refitGroup(q);
  }

  private empty(c: number) {
    this.live[c] = 0;
    this.minN[c] = this.loR[c] = this.loG[c] = this.loB[c] = Number.POSITIVE_INFINITY;
    this.hiR[c] = this.hiG[c] = this.hiB[c] = Number.NEGATIVE_INFINITY;
  }

  refitBlock(c: number) {
    const { R, G, B, N, mtm, live, minN, loR, loG, loB, hiR, hiG, hiB } = this;
    this.empty(c);
    for (let i = c * BLOCK, end = Math.min(this.count, i + BLOCK); i < end; i++) {
      if (mtm[i] === DELETED) continue;
      live[c]++;
      minN[c] = Math.min(minN[c], N[i]);
      loR[c] = Math.min(loR[c], R[i]);
      hiR[c] = Math.max(hiR[c], R[i]);
      loG[c] = Math.min(loG[c], G[i]);
      hiG[c] = Math.max(hiG[c], G[i]);
      loB[c] = Math.min(loB[c], B[i]);
      hiB[c] = Math.max(hiB[c], B[i]);
    }
  }

  refitGroup(q: number) {
    const { live, minN, loR, loG, loB, hiR, hiG, hiB } = this;
    const g = this.blocks + q;
    this.empty(g);
    for (let c = q * GROUP, end = Math.min(this.blocks, c + GROUP); c < end; c++) {
      live[g] += live[c];
      minN[g] = Math.min(minN[g], minN[c]);
      loR[g] = Math.min(loR[g], loR[c]);
      hiR[g] = Math.max(hiR[g], hiR[c]);
      loG[g] = Math.min(loG[g], loG[c]);
      hiG[g] = Math.max(hiG[g], hiG[c]);
      loB[g] = Math.min(loB[g], loB[c]);
      hiB[g] = Math.max(hiB[g], hiB[c]);
    }
  }

  /** Whether box c (a block or a group) may hold a bin that find_nn would take at this error. */
  mayHold(c: number, n1: number, wr: number, wg: number, wb: number, bestErr: number): boolean {
    if (this.live[c] === 0) return false;
    const m = this.minN[c];
    const leastNerr2 = (n1 * m) / (n1 + m);
    if (leastNerr2 * SAFE >= bestErr) return false;
    const { loR, loG, loB, hiR, hiG, hiB } = this;
    const dr = loR[c] > wr ? loR[c] - wr : wr > hiR[c] ? wr - hiR[c] : 0;
    const dg = loG[c] > wg ? loG[c] - wg : wg > hiG[c] ? wg - hiG[c] : 0;
    const db = loB[c] > wb ? loB[c] - wb : wb > hiB[c] ? wb - hiB[c] : 0;
    return leastNerr2 * (dr * dr + dg * dg + db * db) * SAFE < bestErr;
  }

  /**
   * gifenc's `find_nn`: the later live bin whose merge with bin `idx` adds the least error, the first
   * in list order on ties, with its early exits (one of which, `nerr2 >= err`, is a rule rather than
   * a shortcut: it passes over a bin closer than one level). Bins are visited in the same order: the
   * rest of idx's own block in full, then each later group and block unless it cannot hold one.
   */
  findNearest(idx: number) {
    const { R, G, B, N, mtm, count, blocks } = this;
    let best = 0;
    let bestErr = 1e100;
    const n1 = N[idx];
    const wr = R[idx];
    const wg = G[idx];
    const wb = B[idx];
    const first = (idx / BLOCK) | 0;
    for (let c = first; c < blocks; c++) {
      if (c !== first) {
        if (c % GROUP === 0 && !this.mayHold(blocks + c / GROUP, n1, wr, wg, wb, bestErr)) {
          c += GROUP - 1;
          continue;
        }
        if (!this.mayHold(c, n1, wr, wg, wb, bestErr)) continue;
      }
      for (let i = c === first ? idx + 1 : c * BLOCK, end = Math.min(count, (c + 1) * BLOCK); i < end; i++) {
        if (mtm[i] === DELETED) continue;
        const n2 = N[i];
        const nerr2 = (n1 * n2) / (n1 + n2);
        if (nerr2 >= bestErr) continue;
        const er = R[i] - wr;
        let nerr = nerr2 * (er * er);
        if (nerr >= bestErr) continue;
        const eg = G[i] - wg;
        nerr += nerr2 * (eg * eg);
        if (nerr >= bestErr) continue;
        const eb = B[i] - wb;
        nerr += nerr2 * (eb * eb);
        if (nerr >= bestErr) continue;
        bestErr = nerr;
        best = i;
      }
    }
    this.err[idx] = bestErr;
    this.nn[idx] = best;
  }

  /** gifenc's merge of bin b2 into bin b1, the i-th merge; then the boxes of both refitted. */
  merge(b1: number, b2: number, i: number) {
    const { R, G, B, N, fw, bk, mtm } = this;
    const n1 = N[b1];
    const n2 = N[b2];
    const d = 1.0 / (n1 + n2);
    R[b1] = d * (n1 * R[b1] + n2 * R[b2]);
    G[b1] = d * (n1 * G[b1] + n2 * G[b2]);
    B[b1] = d * (n1 * B[b1] + n2 * B[b2]);
    N[b1] += N[b2];
    mtm[b1] = i;
    fw[bk[b2]] = fw[b2];
    bk[fw[b2]] = bk[b2];
    mtm[b2] = DELETED;
    const c1 = (b1 / BLOCK) | 0;
    const c2 = (b2 / BLOCK) | 0;
    this.refitBlock(c1);
    if (c2 !== c1) this.refitBlock(c2);
    this.refitGroup((c1 / GROUP) | 0);
    if (((c2 / GROUP) | 0) !== ((c1 / GROUP) | 0)) this.refitGroup((c2 / GROUP) | 0);
  }
}

/** The frame's non-empty rgb555 bins, each at its mean colour, weighed as gifenc weighs them. */
function binsOf(rgb: Uint8Array, maxColors: number): Bins {
  // Sums and counts per key (the sums fit: 255 · 2^24 pixels < 2^32).
  let count = 0;
  for (let p = 0; p < rgb.length; p += 3) {
    const r = rgb[p];
    const g = rgb[p + 1];
    const b = rgb[p + 2];
    const h = key565(r, g, b) << 2;
    if (histogram[h + 3] === 0) touched[count++] = h >> 2;
    histogram[h] += r;
    histogram[h + 1] += g;
    histogram[h + 2] += b;
    histogram[h + 3]++;
  }
  const keys = touched.subarray(0, count).sort();
  const bins = new Bins(count);
  const { R, G, B, N } = bins;
  for (let i = 0; i < count; i++) {
    const h = keys[i] << 2;
    const d = 1.0 / histogram[h + 3];
    R[i] = histogram[h] * d;
    G[i] = histogram[h + 1] * d;
    B[i] = histogram[h + 2] * d;
    N[i] = histogram[h + 3];
    histogram.fill(0, h, h + 4);
  }
  // gifenc weighs bins by the square root of their counts unless bins are very many.
  if (!((maxColors * maxColors) / count < 0.022)) for (let i = 0; i < count; i++) N[i] = Math.sqrt(N[i]);
  bins.link();
  return bins;
}

/** gifenc's merging: the pair that adds the least error, until maxColors bins are left. */
function mergeDown(bins: Bins, maxColors: number) {
  const { err, nn, tm, mtm } = bins;
  // A heap of bins by their nearest-neighbour error (gifenc's, slot 0 holding its size).
  const heap = new Int32Array(bins.count + 1);
  for (let i = 0; i < bins.count; i++) {
    bins.findNearest(i);
    const e = err[i];
    let l = ++heap[0];
    for (; l > 1; ) {
      const l2 = l >> 1;
      const h = heap[l2];
      if (err[h] <= e) break;
      heap[l] = h;
      l = l2;
    }
    heap[l] = i;
  }
  const merges = bins.count - maxColors;
  for (let i = 0; i < merges; ) {
    let b1 = 0;
    for (;;) {
      b1 = heap[1];
      if (tm[b1] >= mtm[b1] && mtm[nn[b1]] <= tm[b1]) break; // its error is up to date
      if (mtm[b1] === DELETED) b1 = heap[1] = heap[heap[0]--];
      else {
        bins.findNearest(b1);
        tm[b1] = i;
      }
      const e = err[b1];
      let l = 1;
      for (let l2 = 2; l2 <= heap[0]; l2 = l + l) {
        if (l2 < heap[0] && err[heap[l2]] > err[heap[l2 + 1]]) l2++;
        const h = heap[l2];
        if (e <= err[h]) break;
        heap[l] = h;
        l = l2;
      }
      heap[l] = b1;
    }
    bins.merge(b1, nn[b1], ++i);
  }
}

const level = (v: number) => Math.min(255, Math.max(0, Math.round(v)));

/** Pixels of 3 bytes (r, g, b) each → gifenc's palette of them (its `quantize`, rgb565, no alpha). */
export function quantizeRgb(rgb: Uint8Array, maxColors: number): Palette {
  const bins = binsOf(rgb, maxColors);
  mergeDown(bins, maxColors);
  // The live bins' rounded colours in list order, without repeats.
  const palette: Palette = [];
  const seen = new Set<number>();
  for (let i = 0; ; ) {
    const r = level(bins.R[i]);
    const g = level(bins.G[i]);
    const b = level(bins.B[i]);
    const colour = (r << 16) | (g << 8) | b;
    if (!seen.has(colour)) {
      seen.add(colour);
      palette.push([r, g, b]);
    }
    i = bins.fw[i];
    if (i === 0) break;
  }
  return palette;
}

/**
 * Pixels of 3 bytes (r, g, b) each → their palette indices, as gifenc's `applyPalette(…, 'rgb565')`:
 * each rgb565 key takes the palette colour nearest the first pixel seen with that key (the last
 * of equally near colours).
 */
export function applyPaletteRgb(rgb: Uint8Array, palette: Palette): Uint8Array {
  // The colours by red level, so the search can start at the pixel's red and stop where red alone
  // is farther than the nearest so far; ties still go to the last index, as in gifenc's full scan.
  const colours = palette.length;
  const order = Array.from({ length: colours }, (_, c) => c).sort((a, b) => palette[a][0] - palette[b][0] || a - b);
  const pr = Int32Array.from(order, (c) => palette[c][0]);
  const pg = Int32Array.from(order, (c) => palette[c][1]);
  const pb = Int32Array.from(order, (c) => palette[c][2]);
  const pi = Int32Array.from(order);
  const index = new Uint8Array(rgb.length / 3);
  let keys = 0;
  for (let p = 0, i = 0; p < rgb.length; p += 3, i++) {
    const r = rgb[p];
    const g = rgb[p + 1];
    const b = rgb[p + 2];
    const k = key565(r, g, b);
    let nearest = indexOfKey[k];
    if (nearest < 0) {
      nearest = nearestColour(r, g, b, pr, pg, pb, pi);
      indexOfKey[k] = nearest;
      touched[keys++] = k;
    }
    index[i] = nearest;
  }
  for (let i = 0; i < keys; i++) indexOfKey[touched[i]] = -1;
  return index;
}

/**
 * The palette index nearest (r, g, b) by squared distance, the highest index among equally near
 * ones (gifenc's `nearestColorIndexRGB`), over colours sorted by red (pi: their palette indices).
 */
function nearestColour(r: number, g: number, b: number, pr: Int32Array, pg: Int32Array, pb: Int32Array, pi: Int32Array): number {
  // The first colour with red ≥ r, then outwards both ways.
  let lo = 0;
  let hi = pr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pr[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  const n = pr.length;
  let nearest = -1;
  let least = Number.POSITIVE_INFINITY;
  // Each side stops at the first colour farther in red alone than the nearest so far: so is every
  // colour beyond it (an equal red distance may still tie, and ties count).
  for (let up = lo, down = lo - 1; up < n || down >= 0; ) {
    if (up < n) {
      const dr = pr[up] - r;
      if (dr * dr > least) up = n;
      else {
        const dg = pg[up] - g;
        const db = pb[up] - b;
        const distance = dr * dr + dg * dg + db * db;
        if (distance < least || (distance === least && pi[up] > nearest)) {
          least = distance;
          nearest = pi[up];
        }
        up++;
      }
    }
    if (down >= 0) {
      const dr = pr[down] - r;
      if (dr * dr > least) down = -1;
      else {
        const dg = pg[down] - g;
        const db = pb[down] - b;
        const distance = dr * dr + dg * dg + db * db;
        if (distance < least || (distance === least && pi[down] > nearest)) {
          least = distance;
          nearest = pi[down];
        }
        down--;
      }
    }
  }
  return nearest;
}
