/**
 * The example data set for training a model of your own: 200 badges, 64×64 PNGs with transparent
 * corners, in four classes (circle, diamond, hexagon, star: the sub-folders), 50 each. Drawn here from a
 * fixed seed, so every checkout makes the same bytes; nothing to download and no licence to check.
 *
 *   node --import tsx examples/make-badges.ts [out dir, default examples/badges]
 *
 * Each badge: a shape in a random hue, a darker rim, and a light emblem (a dot, a ring or a bar) at
 * its centre; the shape's size and turn vary a little. Drawn 4× larger and averaged down, so edges
 * are smooth and partly transparent.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'fast-png';
import { Sfc32 } from '@gan/core/prng';

export const BADGE_CLASSES = ['circle', 'diamond', 'hexagon', 'star'] as const;
export const BADGES_PER_CLASS = 50;
export const BADGE_SIZE = 64;
const SUPERSAMPLE = 4;

type Shape = (typeof BADGE_CLASSES)[number];
type Point = [number, number];

function polygon(corners: number, radius: number, turn: number, inner?: number): Point[] {
  const points: Point[] = [];
  const count = inner === undefined ? corners : corners * 2;
  for (let i = 0; i < count; i++) {
    const r = inner !== undefined && i % 2 === 1 ? inner : radius;
    const a = turn + (i * 2 * Math.PI) / count - Math.PI / 2;
    points.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return points;
}

/** Even-odd rule. */
function insidePolygon([x, y]: Point, points: Point[]): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    return l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0) * 255, f(8) * 255, f(4) * 255];
}

/** One badge as 8-bit RGBA. */
export function drawBadge(shape: Shape, rng: Sfc32): Uint8Array {
  const hue = rng.next();
  const fill = hslToRgb(hue, 0.65 + 0.3 * rng.next(), 0.45 + 0.15 * rng.next());
  const rim = fill.map((c) => c * 0.55) as [number, number, number];
  const emblem = hslToRgb((hue + 0.5) % 1, 0.3, 0.9);
  const radius = 0.78 + 0.18 * rng.next(); // of the half-width
  const turn = (rng.next() - 0.5) * 0.5;
  const emblemKind = Math.floor(rng.next() * 3); // dot, ring, bar
  const rimWidth = 0.1 + 0.06 * rng.next();
  const outline: Point[] | undefined =
    shape === 'diamond'
      ? polygon(4, radius, turn)
      : shape === 'hexagon'
        ? polygon(6, radius, turn)
        : shape === 'star'
          ? polygon(5, radius, turn, radius * 0.5)
          : undefined;
  const inner: Point[] | undefined = outline?.map(([x, y]) => [x * (1 - rimWidth * 1.6), y * (1 - rimWidth * 1.6)]);
  const inShape = (p: Point, shrink: boolean) =>
    outline ? insidePolygon(p, shrink ? inner! : outline) : Math.hypot(p[0], p[1]) <= radius * (shrink ? 1 - rimWidth : 1);
  const inEmblem = ([x, y]: Point) => {
    const r = Math.hypot(x, y);
    if (emblemKind === 0) return r < 0.18;
    if (emblemKind === 1) return r > 0.16 && r < 0.26;
    return Math.abs(y) < 0.07 && Math.abs(x) < 0.3;
  };

  const out = new Uint8Array(BADGE_SIZE * BADGE_SIZE * 4);
  const n = SUPERSAMPLE * SUPERSAMPLE;
  for (let py = 0; py < BADGE_SIZE; py++)
    for (let px = 0; px < BADGE_SIZE; px++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < SUPERSAMPLE; sy++)
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const p: Point = [((px + (sx + 0.5) / SUPERSAMPLE) / BADGE_SIZE) * 2 - 1, ((py + (sy + 0.5) / SUPERSAMPLE) / BADGE_SIZE) * 2 - 1];
          if (!inShape(p, false)) continue;
          const colour = !inShape(p, true) ? rim : inEmblem(p) ? emblem : fill;
          sum[0] += colour[0];
          sum[1] += colour[1];
          sum[2] += colour[2];
          sum[3] += 1;
        }
      const o = (py * BADGE_SIZE + px) * 4;
      if (sum[3] === 0) continue;
      // Straight (not premultiplied) alpha: the colour of the covered part, the coverage as alpha.
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(sum[c] / sum[3]);
      out[o + 3] = Math.round((sum[3] / n) * 255);
    }
  return out;
}

/** Writes the data set into `outDir` (replacing what is there); returns the files written. */
export async function makeBadges(outDir: string, perClass = BADGES_PER_CLASS): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true });
  const files: string[] = [];
  for (const shape of BADGE_CLASSES) {
    const rng = Sfc32.fromSeed(`badges:${shape}`);
    await mkdir(path.join(outDir, shape), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const data = drawBadge(shape, rng);
      const file = path.join(outDir, shape, `${shape}-${String(i).padStart(3, '0')}.png`);
      await writeFile(file, encode({ width: BADGE_SIZE, height: BADGE_SIZE, data, channels: 4, depth: 8 }));
      files.push(file);
    }
  }
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'badges'));
  makeBadges(out).then(
    (files) => console.log(`wrote ${files.length} badges to ${out}`),
    (error: unknown) => {
      console.error(`make-badges: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
