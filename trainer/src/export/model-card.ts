import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Manifest, ManifestSchema, sha256Hex } from '@gan/core/manifest';

/**
 * Records evaluation results in the export before it is published: in the manifest
 * (`metrics.evaluation`), so the registry lists them and the next retrain's quality gate compares
 * against them, and as the model card's "Evaluation" section (the card's sha256 in the manifest is
 * updated with it). The manifest does not list itself, so no other file hash changes.
 */
export async function attachEvaluation(dir: string, evaluation: unknown): Promise<void> {
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
  manifest.metrics = { ...manifest.metrics, evaluation };
  const card = manifest.files.find((f) => f.path === 'README.md');
  if (card) {
    const cardPath = path.join(dir, card.path);
    const text = await readFile(cardPath, 'utf8');
    const bytes = new TextEncoder().encode(withEvaluationSection(text, evaluation));
    await writeFile(cardPath, bytes);
    card.bytes = bytes.byteLength;
    card.sha256 = await sha256Hex(bytes);
  }
  ManifestSchema.parse(manifest);
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

const EVALUATION_HEADING = '## Evaluation';

/** KID and its floor (mean ± std over subsets), for evaluations in ImageNet features (evaluate/colour.ts). */
function kidRows(e: Record<string, unknown>): string[] {
  const kid = e.kid as { mean: number; std: number; subsets: number; subsetSize: number } | undefined;
  const floor = e.kidFloor as { mean: number; std: number } | undefined;
  if (!kid || !floor) return [];
  const f = (r: { mean: number; std: number }) => `${r.mean.toFixed(4)} ± ${r.std.toFixed(4)}`;
  return [
    `| KID to held-out real images (${kid.subsets} subsets of ${kid.subsetSize}) | ${f(kid)} |`,
    `| KID real-vs-real floor | ${f(floor)} |`,
  ];
}

type PR = { precision: number; recall: number };

/**
 * The style judge's measures (evaluate/judge.ts): per-style FD against its floor, improved precision
 * and recall with their real-vs-real ceilings, and the copy check; flat fill beside them.
 */
function judgeRows(e: Record<string, unknown>): string[] {
  const rows: string[] = [];
  const pr = e.precisionRecall as { k: number; withinStyle?: PR; pooled: PR; ceiling: { withinStyle?: PR; pooled: PR } } | undefined;
  const f = (v: PR) => `${v.precision.toFixed(2)} / ${v.recall.toFixed(2)}`;
  if (pr?.withinStyle && pr.ceiling.withinStyle)
    rows.push(
      `| precision / recall within style (k = ${pr.k}, averaged) | ${f(pr.withinStyle)} (real-vs-real: ${f(pr.ceiling.withinStyle)}) |`,
    );
  if (pr) rows.push(`| precision / recall pooled (k = ${pr.k}) | ${f(pr.pooled)} (real-vs-real: ${f(pr.ceiling.pooled)}) |`);
  const copies = e.copies as { copies: number; heldOutCopies: number } | undefined;
  if (copies)
    rows.push(
      `| samples nearer a training image than 95 % of held-out real images are | ${(copies.copies * 100).toFixed(1)} % (held-out real: ${(copies.heldOutCopies * 100).toFixed(1)} %) |`,
    );
  const imagenet = e.imagenet as { extractor: string; fd: number; fdFloor: number; fdRatio: number } | undefined;
  if (imagenet)
    rows.push(
      `| beside it, in ImageNet features (${imagenet.extractor}): FD / floor | ${imagenet.fd.toFixed(2)} / ${imagenet.fdFloor.toFixed(2)} = ${imagenet.fdRatio.toFixed(2)}× |`,
    );
  const flat = e.flatFill as { samples: number; real: number } | undefined;
  if (flat)
    rows.push(
      `| flat fill: drawn pixels the colour of their neighbours | ${(flat.samples * 100).toFixed(1)} % (real renders: ${(flat.real * 100).toFixed(1)} %) |`,
    );
  return rows;
}

/** The card with its "Evaluation" section replaced (or appended): the numbers `gan evaluate` printed. */
export function withEvaluationSection(card: string, evaluation: unknown): string {
  const e = (evaluation ?? {}) as Record<string, unknown>;
  const num = (v: unknown, digits = 3) => (typeof v === 'number' ? v.toFixed(digits) : '–');
  const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : 'not measured');
  const byClass = e.classAccuracyByClass as Record<string, number> | undefined;
  const judge = e.metric === 'style-judge-distances';
  const own = (e.styleClassifier as { heldOutAccuracy?: number } | undefined)?.heldOutAccuracy;
  // Agreement means only as much as the judge's own accuracy on real images: it stands beside it.
  const judgeAccuracy = typeof own === 'number' ? ` (the judge on held-out real images: ${pct(own)})` : '';
  const fdByClass = e.fdByClass as Record<string, { fdRatio: number }> | undefined;
  const lines = [
    EVALUATION_HEADING,
    '',
    `\`gan evaluate --model <this directory> --samples ${e.samples ?? '?'} --seed ${e.seed ?? '?'}${judge ? ` --extractor judge${typeof e.size === 'number' ? ` --size ${e.size}` : ''}${typeof e.truncation === 'number' ? ` --truncation ${e.truncation}` : ''}` : ''}\` reproduces these numbers.`,
    '',
    '| metric | value |',
    '| --- | --- |',
    `| Fréchet distance to held-out real images (FD) | ${num(e.fd)} |`,
    `| real-vs-real floor (training vs held-out images, same count) | ${num(e.fdFloor)} |`,
    `| FD / floor | ${num(e.fdRatio, 2)} |`,
    ...kidRows(e),
    ...judgeRows(e),
    `| samples generated for class c that the classifier calls c | ${pct(e.classAccuracy)}${judgeAccuracy} |`,
    `| feature extractor | ${e.extractor ?? '?'} (version ${e.extractorVersion ?? '?'}) |`,
    '',
    ...(byClass
      ? [
          `Per class: ${Object.entries(byClass)
            .map(([c, a]) => `${c} ${(a * 100).toFixed(0)} %`)
            .join(', ')}.`,
          '',
        ]
      : []),
    ...(fdByClass
      ? [
          `FD / floor per style: ${Object.entries(fdByClass)
            .map(([c, d]) => `${c} ${d.fdRatio.toFixed(1)}×`)
            .join(', ')}.`,
          '',
        ]
      : []),
    ...((e.metric === 'imagenet-feature-distances' || judge) && typeof e.note === 'string'
      ? [e.note]
      : [
          "FD is measured in the feature space of this project's own classifier (models/classifiers), not",
          'Inception FID: compare it only with evaluations that used the same extractor version, sample count and seed.',
        ]),
    '',
  ];
  const start = card.indexOf(EVALUATION_HEADING);
  if (start < 0) return `${card.trimEnd()}\n\n${lines.join('\n')}`;
  const next = card.indexOf('\n## ', start + EVALUATION_HEADING.length);
  return `${card.slice(0, start)}${lines.join('\n')}${next < 0 ? '' : card.slice(next + 1)}`;
}
