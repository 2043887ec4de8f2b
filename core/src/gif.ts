/**
 * Frames → animated GIF89a (gifenc: LZW and the NETSCAPE2.0 loop extension; colour quantisation as
 * gifenc's, in gif-palette.ts).
 * Deterministic: the same frames always give the same bytes.
 */
import * as gifencModule from 'gifenc';
import { type Palette, applyPaletteRgb, quantizeRgb } from './gif-palette.ts';
import type { PixelBatch } from './image.ts';

// gifenc ships an ES module (what bundlers and so the worker load) and CommonJS (Node's `main`),
// whose named exports Node does not see from an ES module: take them from whichever was loaded.
type Gifenc = typeof gifencModule.default;
const loaded = gifencModule as unknown as Gifenc & { default: Gifenc };
const gifenc: Gifenc = typeof loaded.GIFEncoder === 'function' ? loaded : loaded.default;

/**
 * How colour frames get their ≤ 256 colours:
 * - 'global': one palette quantised from all frames together, written once;
 * - 'per-frame': each frame quantised on its own, with its own local colour table.
 * Greyscale frames always use the exact 256-grey palette (no loss).
 */
export type PaletteMode = 'global' | 'per-frame';

export interface GifOptions {
  /** Frames per second: the delay is 100 / fps hundredths of a second, rounded (GIF's unit). */
  fps: number;
  palette?: PaletteMode;
}

/**
 * The palette choice for colour walks, measured on the shipped twemoji model (16 keys × 12 frames at
 * 32 px, `node --import tsx bench/walk-cpu.ts`), error against the true pixels decoded back with
 * omggif: a palette per frame is off by 1.5 grey levels per channel on average (worst frame 3.9);
 * one palette quantised from all frames together by 5.0 (worst 6.6) — each emoji has its own
 * saturated colours, so 256 shared colours band faces' gradients and shift small flags visibly. A
 * global palette was also slower with gifenc's quantiser (3.6 s against 0.35 s: its cost grows with
 * the distinct colours it is given, and all frames together have far more than one frame), though
 * its file is 2.5× smaller. So colour walks get a palette per frame, quantised in rgb565 (rgb444 is 4×
 * faster but doubles the error, worst frame 7.6).
 */
const COLOUR_PALETTE: PaletteMode = 'per-frame';

const GREYS = Array.from({ length: 256 }, (_, g) => [g, g, g]);

/** An animated GIF of the batch's images, in order, looping forever. */
export function encodeAnimatedGif(frames: PixelBatch, options: GifOptions): Uint8Array {
  const { size, channels, count } = frames;
  const delay = Math.round(100 / options.fps) * 10; // gifenc takes milliseconds and writes hundredths
  const frameBytes = size * size * channels;
  const encoder = gifenc.GIFEncoder({ initialCapacity: Math.max(4096, count * size * size) });
  const mode = options.palette ?? COLOUR_PALETTE;
  let globalPalette: Palette | undefined;
  if (channels === 3 && mode === 'global') globalPalette = quantizeRgb(frames.data, 256);
  for (let i = 0; i < count; i++) {
    const frame = frames.data.subarray(i * frameBytes, (i + 1) * frameBytes);
    let index: Uint8Array;
    let palette: Palette | undefined;
    if (channels === 1) {
      index = frame; // the grey level is its own palette index
      palette = i === 0 ? GREYS : undefined;
    } else {
      // gifenc's quantize and applyPalette (rgb565), the same palette and indices at a fraction of the work.
      const framePalette = globalPalette ?? quantizeRgb(frame, 256);
      index = applyPaletteRgb(frame, framePalette);
      // The first frame's palette is the global colour table; later frames need their own only per frame.
      palette = i === 0 || !globalPalette ? framePalette : undefined;
    }
    encoder.writeFrame(index, size, size, { palette, delay, repeat: 0 });
  }
  encoder.finish();
  return encoder.bytes();
}
