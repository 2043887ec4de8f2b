/**
 * What a person watches during a run: a grid of images from fixed latents (the same every time, so
 * grids are comparable across the run) and a plot of the losses and D's scores.
 *
 * The latents and layout follow the worker's grid rules, so an exported model's
 * `grid.png?seed=preview&rows=8&cols=8` (unconditional) or `grid.png?seed=preview&class=each&cols=8`
 * (conditional: one row per class, one latent per column) shows these same images.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type ModelConfig, FastGenerator, gridCells, gridPng } from '@gan/core';
import { asTransposedWeight } from '@gan/core/resize-conv';

export const PREVIEW_SEED = 'preview';
const PREVIEW_COLS = 8;
const MAX_CLASS_ROWS = 16;

export interface PreviewCell {
  seed: string;
  classIndex: number;
}

/** Cells of the preview grid, row by row: the worker's grid.png?seed=preview (class=each when conditional). */
export function previewLayout(config: ModelConfig): { rows: number; cols: number; cells: PreviewCell[] } {
  const cols = PREVIEW_COLS;
  const eachClass = config.numClasses > 0 && config.numClasses <= MAX_CLASS_ROWS;
  const rows = eachClass ? config.numClasses : 8;
  const choice = eachClass ? 'each' : config.numClasses > 0 ? 'seeded' : 'none';
  const cells = gridCells(PREVIEW_SEED, rows, cols, config.numClasses, choice).map((c) => ({
    seed: c.seed,
    classIndex: c.classIndex ?? 0,
  }));
  return { rows, cols, cells };
}

/**
 * PNG of the preview grid for generator weights keyed by name (BN folded: the serving path, core's
 * pipeline). A resize-convolution G's weights are previewed as the transposed-convolution G they equal.
 */
export function renderPreview(config: ModelConfig, weights: tf.NamedTensorMap, padding = 2): Uint8Array {
  const { rows, cols, cells } = previewLayout(config);
  const served = Object.fromEntries(
    Object.entries(weights).map(([name, t]) => [name, asTransposedWeight(name, { shape: t.shape, data: t.dataSync() as Float32Array })]),
  );
  const generator = FastGenerator.fromWeights(config, served);
  try {
    return gridPng(generator, cells, { rows, cols, padding });
  } finally {
    generator.dispose();
  }
}

export interface CurvePoint {
  step: number;
  d_loss: number;
  g_loss: number;
  d_x: number;
  d_g_z: number;
}

/** Averages consecutive points so the plot has at most `max` points (and less noise). */
function downsample(points: CurvePoint[], max: number): CurvePoint[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: CurvePoint[] = [];
  for (let i = 0; i < points.length; i += size) {
    const chunk = points.slice(i, i + size);
    const mean = (k: keyof CurvePoint) => chunk.reduce((s, p) => s + p[k], 0) / chunk.length;
    out.push({
      step: chunk[chunk.length - 1].step,
      d_loss: mean('d_loss'),
      g_loss: mean('g_loss'),
      d_x: mean('d_x'),
      d_g_z: mean('d_g_z'),
    });
  }
  return out;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** An SVG with two panels: D and G losses; D(x) and D(G(z)) in [0, 1]. */
export function lossCurveSvg(points: CurvePoint[], title = 'training'): string {
  const width = 720;
  const panelHeight = 220;
  const margin = { left: 56, right: 16, top: 28, bottom: 28 };
  const data = downsample(
    points.filter((p) => [p.d_loss, p.g_loss, p.d_x, p.d_g_z].every(Number.isFinite)),
    600,
  );
  const first = data[0]?.step ?? 0;
  const last = Math.max(first + 1, data[data.length - 1]?.step ?? 1);
  const x = (step: number) => margin.left + ((step - first) / (last - first)) * (width - margin.left - margin.right);
  const panel = (
    top: number,
    series: { key: keyof CurvePoint; colour: string; label: string }[],
    lo: number,
    hi: number,
    label: string,
  ) => {
    const y = (v: number) => top + margin.top + (1 - (v - lo) / (hi - lo || 1)) * (panelHeight - margin.top - margin.bottom);
    const lines = series.map((s) => {
      const d = data
        .map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(Math.min(hi, Math.max(lo, p[s.key]))).toFixed(1)}`)
        .join('');
      return `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.5"/>`;
    });
    const legend = series.map((s, i) => `<text x="${margin.left + 8 + i * 110}" y="${top + 18}" fill="${s.colour}">${s.label}</text>`);
    const axis = [lo, (lo + hi) / 2, hi].map(
      (v) =>
        `<text x="${margin.left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text><line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
    );
    return `<g>${axis.join('')}<text x="${width - margin.right}" y="${top + 18}" text-anchor="end" fill="#555">${label}</text>${legend.join('')}${lines.join('')}</g>`;
  };
  const maxLoss = Math.max(1, ...data.flatMap((p) => [p.d_loss, p.g_loss]));
  const height = panelHeight * 2;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<title>${escapeXml(title)}</title>`,
    panel(
      0,
      [
        { key: 'd_loss', colour: '#d62728', label: 'D loss' },
        { key: 'g_loss', colour: '#1f77b4', label: 'G loss' },
      ],
      0,
      Math.ceil(maxLoss),
      'loss (BCE)',
    ),
    panel(
      panelHeight,
      [
        { key: 'd_x', colour: '#2ca02c', label: 'D(x)' },
        { key: 'd_g_z', colour: '#9467bd', label: 'D(G(z))' },
      ],
      0,
      1,
      'mean D score',
    ),
    `<text x="${width / 2}" y="${height - 6}" text-anchor="middle" fill="#555">step ${first}–${last}</text>`,
    '</svg>',
  ].join('\n');
}
