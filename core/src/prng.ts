/**
 * Seed → latent vector. This is part of the public contract: the same seed must give the same image
 * forever, in the worker and in the trainer's previews, on any JavaScript engine. So it uses only
 * 32-bit integer arithmetic, `Math.log`, `Math.sqrt` and `Math.cos`, and is pinned by golden tests.
 *
 * 1. The seed string is encoded as UTF-8.
 * 2. The bytes are hashed to four 32-bit words with cyrb128 (a public-domain MurmurHash3-style mix).
 * 3. Those words seed sfc32 (Chris Doty-Humphrey's Small Fast Counting generator); the first 16
 *    outputs are discarded so that similar seeds diverge.
 * 4. Uniform pairs (u1, u2) in (0, 1] × [0, 1) become standard normals by Box–Muller:
 *    z = sqrt(-2 ln u1) · cos(2π u2), then · sin(2π u2) as the next value.
 * 5. The truncation trick scales z towards the mean: z · t with 0 < t ≤ 1 (t = 1: unchanged), which
 *    trades variety for typical-looking images.
 */

const encoder = new TextEncoder();

export function cyrb128(bytes: Uint8Array): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (const k of bytes) {
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** A seeded stream of uniform numbers in [0, 1) with 2^-32 resolution. Its state can be saved. */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(state: readonly [number, number, number, number]) {
    [this.a, this.b, this.c, this.d] = state;
  }

  static fromSeed(seed: string): Sfc32 {
    const rng = new Sfc32(cyrb128(encoder.encode(seed)));
    for (let i = 0; i < 16; i++) rng.nextUint32();
    return rng;
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fills `out` with standard normal values (Box–Muller, both values of each pair used). */
  fillNormal(out: Float32Array, scale = 1): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.next(); // (0, 1]: log stays finite
      const u2 = this.next();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2) * scale;
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2) * scale;
    }
    return out;
  }

  getState(): [number, number, number, number] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }
}

export const MAX_SEED_LENGTH = 128;

/** The latent vector for one seed: `latentSize` standard normals, scaled by the truncation t. */
export function latentFromSeed(seed: string, latentSize: number, truncation = 1): Float32Array {
  if (!(truncation > 0 && truncation <= 1)) throw new RangeError('truncation must be in (0, 1]');
  return Sfc32.fromSeed(seed).fillNormal(new Float32Array(latentSize), truncation);
}

/**
 * The seed of cell `index` of a grid whose seed is `seed`. Grids and the trainer's fixed preview
 * noise use the same rule, so `grid.png?seed=preview` shows the trainer's preview latents.
 */
export function cellSeed(seed: string, index: number): string {
  return `${seed}#${index}`;
}

/**
 * The class of an image whose class was not asked for, on a conditional model: drawn from its own
 * seed (with a suffix, so it does not reuse the latent's random numbers). Shared by the worker and the
 * trainer's `sample`, so both give the same image for the same URL.
 */
export function classForSeed(seed: string, numClasses: number): number {
  return Sfc32.fromSeed(`${seed}#class`).nextInt(numClasses);
}

/** Which class each image of a request gets on a conditional model. */
export type ClassChoice = number | 'each' | 'seeded' | 'none';

export interface GridCell {
  seed: string;
  /** Undefined on unconditional models ('none'). */
  classIndex?: number;
}

/**
 * The seed and class of every cell of a rows × cols grid, row by row: cell i uses cellSeed(seed, i);
 * with 'each', row r shows class r and each column keeps one latent (style held, class varies). The
 * worker's grid.png and the trainer's preview grids both come from here, so
 * `grid.png?seed=preview` (with `class=each` on conditional models) is the trainer's preview.
 */
export function gridCells(seed: string, rows: number, cols: number, numClasses: number, choice: ClassChoice): GridCell[] {
  const cells: GridCell[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const s = cellSeed(seed, choice === 'each' ? col : row * cols + col);
      cells.push({ seed: s, classIndex: classOf(s, row, numClasses, choice) });
    }
  }
  return cells;
}

/** The class of one image; `row` matters only for 'each'. */
export function classOf(seed: string, row: number, numClasses: number, choice: ClassChoice): number | undefined {
  if (choice === 'none') return undefined;
  if (choice === 'each') return row;
  if (choice === 'seeded') return classForSeed(seed, numClasses);
  return choice;
}

/** A fresh random seed for requests that give none: 12 characters of base-36 from the platform CSPRNG. */
export function randomSeed(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => (b % 36).toString(36)).join('');
}
