/**
 * The largest requests the worker's work bounds (worker/src/validation.ts) allow a model of a given
 * image size: the bounds scale with it (256 images of a 32-pixel model, 64 of a 64-pixel one), so
 * the benchmarks that check them derive their requests from the same limits. RELIABILITY.md's
 * per-route table is the worst CPU of these, route by route.
 */
import { LIMITS } from '../../worker/src/validation.ts';

export interface WalkShape {
  label: string;
  keys: number;
  frames: number;
  size: number;
}

/** Images one request may generate with a model of this size. */
export const mostImages = (imageSize: number) => Math.floor(LIMITS.maxGeneratedPixels / (imageSize * imageSize));

/** The square grid of the most images, and its largest cell with padding 0 (output at the pixel bound). */
export function largestGrid(imageSize: number): { side: number; cell: number } {
  const side = Math.min(LIMITS.maxCells, Math.floor(Math.sqrt(mostImages(imageSize))));
  return { side, cell: Math.floor(Math.sqrt(LIMITS.maxOutputPixels) / side) };
}

/**
 * The largest walks: the most frames at the model's own size; 64 frames of 64 px (the most a 64-pixel
 * model may generate, and what a smaller model's frames cost the GIF encoder at that size); the
 * largest frames.
 */
export function largestWalks(imageSize: number): WalkShape[] {
  const keys = Math.min(LIMITS.maxKeys, Math.floor(Math.sqrt(mostImages(imageSize))));
  const frames = Math.min(LIMITS.maxFramesPerKey, Math.floor(mostImages(imageSize) / keys));
  const size = Math.min(imageSize, Math.floor(Math.sqrt(LIMITS.maxWalkPixels / (keys * frames))));
  const walks: WalkShape[] = [{ label: `most frames: ${keys * frames} of ${size} px`, keys, frames, size }];
  if (size !== 64 || keys * frames !== 64) walks.push({ label: '64 frames of 64 px', keys: 8, frames: 8, size: 64 });
  walks.push({ label: 'largest frames: 4 of 256 px', keys: 2, frames: 2, size: LIMITS.maxWalkSize });
  return walks;
}

export type Route = 'image.png' | 'grid.png' | 'walk.gif' | 'morph.png';

export interface BoundRequest {
  route: Route;
  label: string;
  /** The query, with `seed=b` (`from=b` for a morph) for the benchmark to number (b0, b1, …). */
  query: string;
}

/**
 * The largest request of every route, each of its parameters at its bound: sizes, grid cells,
 * walk keys · frames · size², morph steps; the bilinear filter (nearest is less work: a
 * nearest-enlarged frame has at most the model's own colours, bilinear thousands).
 */
export function largestRequests(imageSize: number): BoundRequest[] {
  const { side, cell } = largestGrid(imageSize);
  const steps = Math.min(LIMITS.maxSteps, mostImages(imageSize));
  // A strip of `steps` cells with padding 0 at the output bound, its cells at most the largest image.
  const stripCell = (n: number) => Math.min(LIMITS.maxSize, Math.floor(Math.sqrt(LIMITS.maxOutputPixels / n)));
  const fewSteps = Math.max(2, Math.floor(LIMITS.maxOutputPixels / LIMITS.maxSize ** 2));
  return [
    { route: 'image.png', label: `native ${imageSize} px`, query: 'seed=b' },
    { route: 'image.png', label: `size=${LIMITS.maxSize} (largest image)`, query: `seed=b&size=${LIMITS.maxSize}` },
    {
      route: 'grid.png',
      label: `${side}x${side}, ${imageSize} px (most images)`,
      query: `seed=b&rows=${side}&cols=${side}&size=${imageSize}`,
    },
    {
      route: 'grid.png',
      label: `${side}x${side}, ${cell} px, padding 0 (most images, ${side * cell}x${side * cell})`,
      query: `seed=b&rows=${side}&cols=${side}&size=${cell}&padding=0`,
    },
    {
      route: 'grid.png',
      label: `2x2, ${LIMITS.maxSize} px, padding 0 (largest cells, ${2 * LIMITS.maxSize}x${2 * LIMITS.maxSize})`,
      query: `seed=b&rows=2&cols=2&size=${LIMITS.maxSize}&padding=0`,
    },
    ...largestWalks(imageSize).map(
      (w): BoundRequest => ({
        route: 'walk.gif',
        label: `keys=${w.keys}&frames=${w.frames}&size=${w.size} (${w.label})`,
        query: `seed=b&keys=${w.keys}&frames=${w.frames}&size=${w.size}`,
      }),
    ),
    {
      route: 'morph.png',
      label: `steps=${steps}&size=${stripCell(steps)}&padding=0 (most steps, ${steps * stripCell(steps)}x${stripCell(steps)})`,
      query: `from=b&steps=${steps}&size=${stripCell(steps)}&padding=0`,
    },
    {
      route: 'morph.png',
      label: `steps=${fewSteps}&size=${LIMITS.maxSize}&padding=0 (largest cells, ${fewSteps * LIMITS.maxSize}x${LIMITS.maxSize})`,
      query: `from=b&steps=${fewSteps}&size=${LIMITS.maxSize}&padding=0`,
    },
  ];
}
