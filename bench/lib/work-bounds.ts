/**
 * The largest requests the worker's work bounds (worker/src/validation.ts) allow a model of a given
 * image size: the bounds scale with it (256 images of a 32-pixel model, 64 of a 64-pixel one), so
 * the benchmarks that check them derive their requests from the same limits.
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
