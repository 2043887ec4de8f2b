/**
 * `gan evaluate --extractor judge` (the default for emoji models): a generator's samples measured in
 * the features of the emoji style judge (style-judge.ts), a network no training or sampling uses.
 *
 * - fd, kid: Fréchet distance and KID of the samples to every render of the model's groups (the
 *   generator's training and held-out splits together), overall and per style. Their floors: the same
 *   measures of as many real renders drawn with replacement from those renders (seeded) — what a
 *   generator that reproduced the real images' distribution exactly would score with this many samples.
 * - precisionRecall: improved precision and recall (k = 3, neighbours.ts) against the generator's
 *   training renders, within each style (averaged over styles) and pooled; the ceiling is the same
 *   measure of the held-out real renders against the training renders (real data scored as if it were
 *   samples). Both sides of the ceiling are real images, so its precision and recall are what a
 *   perfect generator could reach with about as many images as the held-out split has per style.
 * - copies: the copy check (neighbours.ts) in pixels against the training renders.
 * - classAccuracy ("style agreement"): the share of samples generated for a style that the judge
 *   assigns to it, with the judge's own accuracy on the held-out real renders of the model's groups.
 * - flatFill: the share of drawn pixels the colour of their neighbours (flat-fill.ts), samples against
 *   every real render, per style: a pixel statistic beside the judge's measures, not one of them.
 *
 * With `size`, the samples are taken as the worker serves them at that size (8-bit pixels, bilinear)
 * and averaged back down to the judge's 32 px, so the numbers are those of the served images.
 */
import { Sfc32 } from '@gan/core/prng';
import { type LabelledImages, extractFeatures } from './classifier.ts';
import { EvaluationError, agreement, evaluationRecord, judgedClasses, pick } from './evaluate.ts';
import { frechetDistance, gaussianStats } from './frechet.ts';
import { type KidResult, kernelInceptionDistance } from './kid.ts';
import { type CopyCheck, PR_NEIGHBOURS, type PrecisionRecall, copyCheck, precisionRecall } from './neighbours.ts';
import { flatFill, flatFillShares } from './flat-fill.ts';
import type { LoadedClassifier } from './store.ts';
import { evaluateImagesWithImageNet } from './colour.ts';
import type { ImageNetExtractor } from './imagenet.ts';

export const JUDGE_EVALUATION_NOTE =
  'Fréchet distance and KID in the 64 penultimate features of the emoji style judge (models/classifiers/emoji-style-32), ' +
  'against every render of the model’s groups; floors: as many renders drawn with replacement from them. Improved precision and ' +
  'recall (k = 3) against the training renders, ceilings: held-out renders against training renders. Not comparable to ' +
  'published FIDs; compare only with evaluations that used the same judge version, sample count, size and seed.';

export interface DistancePair {
  fd: number;
  fdFloor: number;
  fdRatio: number;
}

export interface PrecisionRecallRecord {
  k: number;
  /** Within each style, averaged over the styles; and per style (conditional models only). */
  withinStyle?: PrecisionRecall & { byClass: Record<string, PrecisionRecall> };
  /** All styles together. */
  pooled: PrecisionRecall;
  /** Held-out real renders against the training renders, measured the same way. */
  ceiling: { withinStyle?: PrecisionRecall; pooled: PrecisionRecall };
  /** Real images of the manifolds: the generator's training renders. */
  realImages: number;
  heldOutImages: number;
}

export interface JudgeEvaluation {
  metric: 'style-judge-distances';
  note: string;
  model?: { name: string; version: string };
  images?: string;
  extractor: string;
  extractorVersion: string;
  /** The judge's top-1 accuracy on the held-out renders of every group (classifier.json). */
  extractorHeldOutAccuracy: number;
  extractorAccuracyMeasure: 'top-1 class';
  featureSize: number;
  samples: number;
  seed: string;
  backend: string;
  /** Edge the samples were served at before the judge read them (absent: the generator's raw output). */
  size?: number;
  /** The `truncation` the samples were served with (absent: 1). */
  truncation?: number;
  /** Every render of the model's groups: what FD and KID compare with. */
  referenceImages: number;
  fd: number;
  fdFloor: number;
  fdRatio: number;
  kid: KidResult;
  kidFloor: KidResult;
  fdByClass?: Record<string, DistancePair>;
  precisionRecall?: PrecisionRecallRecord;
  copies: CopyCheck;
  classAccuracy?: number;
  classAccuracyByClass?: Record<string, number>;
  classAccuracySkipped?: string;
  /**
   * The flat-fill share (flat-fill.ts) of the samples and of every real render of the model's groups,
   * overall and per style: a pixel statistic beside the judge's figures, not one of them.
   */
  flatFill?: { samples: number; real: number; byClass?: Record<string, { samples: number; real: number }> };
  /** The judge, with its accuracy on the held-out real renders of the model's groups (overall and per class). */
  styleClassifier?: { id: string; version: string; heldOutAccuracy: number; heldOutAccuracyByClass: Record<string, number> };
  /**
   * The same images in ImageNet features (`gan evaluate --extractor mobilenet`'s distance: against the
   * held-out renders, the floor of real training renders), read beside the judge's: the judge's
   * palette statistics can move its FD where ImageNet features do not (docs/training.md).
   */
  imagenet?: {
    extractor: string;
    extractorVersion: string;
    /** Edge of the images it was given: the judge's (served images averaged down to it). */
    imageSize: number;
    referenceImages: number;
    fd: number;
    fdFloor: number;
    fdRatio: number;
  };
  seconds: number;
}

export interface JudgeImagesInput {
  judge: LoadedClassifier;
  /** Images to score, [count, S, S, 3] in [-1, 1] at the judge's size. */
  images: Float32Array;
  count: number;
  /** Requested class of each image, for conditional samples. */
  classes?: Int32Array;
  classNames: string[];
  /** The generator's training and held-out renders (the data loader's splits of the model's groups). */
  train: LabelledImages;
  heldOut: LabelledImages;
  seed: string;
  backend: string;
  size?: number;
  truncation?: number;
  model?: { name: string; version: string };
  source?: string;
  log?: (line: string) => void;
  /** An ImageNet feature network to measure the same images in as well (JudgeEvaluation.imagenet). */
  imagenet?: ImageNetExtractor;
  /** Where that network's features of the real images are kept between evaluations. */
  realFeatureCache?: string;
}

/** `count` rows drawn with replacement (seeded). */
function bootstrap(features: Float32Array, rows: number, dim: number, count: number, seed: string): Float32Array {
  const rng = Sfc32.fromSeed(`bootstrap:${seed}`);
  return pick(
    features,
    Array.from({ length: count }, () => rng.nextInt(rows)),
    dim,
  );
}

/** Rows whose label is `label`. */
function rowsOf(features: Float32Array, labels: ArrayLike<number>, label: number, dim: number): { rows: Float32Array; count: number } {
  const idx = Array.from(labels).flatMap((l, i) => (l === label ? [i] : []));
  return { rows: pick(features, idx, dim), count: idx.length };
}

function distances(fake: Float32Array, n: number, real: Float32Array, m: number, dim: number, seed: string): DistancePair {
  const realStats = gaussianStats(real, m, dim);
  const fd = frechetDistance(gaussianStats(fake, n, dim), realStats);
  const fdFloor = frechetDistance(gaussianStats(bootstrap(real, m, dim, n, seed), n, dim), realStats);
  return { fd, fdFloor, fdRatio: fdFloor > 0 ? fd / fdFloor : Number.POSITIVE_INFINITY };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);

/** Scores images against the model's real renders in the judge's features. Leaves no tensors behind. */
export function evaluateWithJudge(input: JudgeImagesInput): JudgeEvaluation {
  const started = performance.now();
  const { judge, train, heldOut, count, seed } = input;
  const info = judge.info;
  const log = input.log ?? (() => {});
  if (count < 2) throw new EvaluationError('at least 2 images are needed');
  if (info.imageSize !== heldOut.imageSize || info.channels !== heldOut.channels) {
    throw new EvaluationError(`the judge ${info.id} reads ${info.imageSize} px images, the real data is ${heldOut.imageSize} px`);
  }
  const extract = (images: Float32Array, n: number) => extractFeatures(judge.model, images, n, info.imageSize, info.channels);
  const fake = extract(input.images, count);
  const realTrain = extract(train.images, train.count);
  const realHeld = extract(heldOut.images, heldOut.count);
  const dim = fake.featureSize;
  const allCount = train.count + heldOut.count;
  const all = new Float32Array(allCount * dim);
  all.set(realTrain.features);
  all.set(realHeld.features, train.count * dim);
  const allLabels = Int32Array.from([...train.labels, ...heldOut.labels]);

  const overall = distances(fake.features, count, all, allCount, dim, seed);
  log(`FD ${overall.fd.toPrecision(4)}, floor ${overall.fdFloor.toPrecision(4)}`);
  const floorRows = bootstrap(all, allCount, dim, count, seed);
  const kid = kernelInceptionDistance(fake.features, count, all, allCount, dim, { seed });
  const kidFloor = kernelInceptionDistance(floorRows, count, all, allCount, dim, { seed });

  const evaluation: JudgeEvaluation = {
    ...evaluationRecord(
      { metric: 'style-judge-distances', note: JUDGE_EVALUATION_NOTE },
      input,
      {
        extractor: info.id,
        extractorVersion: info.version,
        extractorHeldOutAccuracy: info.heldOutAccuracy,
        extractorAccuracyMeasure: 'top-1 class' as const,
      },
      { featureSize: dim, samples: count, referenceImages: allCount, fd: overall.fd, fdFloor: overall.fdFloor },
    ),
    ...(input.size !== undefined ? { size: input.size } : {}),
    ...(input.truncation !== undefined && input.truncation !== 1 ? { truncation: input.truncation } : {}),
    kid,
    kidFloor,
    copies: copyCheck(
      input.images,
      count,
      train.images,
      train.count,
      heldOut.images,
      heldOut.count,
      info.imageSize * info.imageSize * info.channels,
    ),
    seconds: 0,
  };
  log(
    `copies: ${(evaluation.copies.copies * 100).toFixed(1)} % of samples (held-out real: ${(evaluation.copies.heldOutCopies * 100).toFixed(1)} %)`,
  );

  // Real classes are the judge's classes by name; the requested classes are the generator's.
  const realClassOf = (name: string) => train.classNames.indexOf(name);
  const { imageSize, channels } = info;
  const sampleShares = flatFillShares(input.images, count, imageSize, channels);
  const realShares = Float32Array.from([
    ...flatFillShares(train.images, train.count, imageSize, channels),
    ...flatFillShares(heldOut.images, heldOut.count, imageSize, channels),
  ]);
  evaluation.flatFill = {
    samples: flatFill(sampleShares).share,
    real: flatFill(realShares).share,
    ...(input.classes && {
      // A style the real data lacks has no share to stand beside: left out, as from the distances.
      byClass: Object.fromEntries(
        input.classNames.flatMap((name, c) => {
          const real = flatFill(realShares, allLabels, realClassOf(name));
          return real.images ? [[name, { samples: flatFill(sampleShares, input.classes, c).share, real: real.share }]] : [];
        }),
      ),
    }),
  };
  if (input.classes) {
    const fdByClass: Record<string, DistancePair> = {};
    const byClass: Record<string, PrecisionRecall> = {};
    for (const [c, name] of input.classNames.entries()) {
      const label = realClassOf(name);
      const mine = rowsOf(fake.features, input.classes, c, dim);
      const real = rowsOf(all, allLabels, label, dim);
      const trainRows = rowsOf(realTrain.features, train.labels, label, dim);
      if (label < 0 || mine.count <= PR_NEIGHBOURS || trainRows.count <= PR_NEIGHBOURS) continue;
      fdByClass[name] = distances(mine.rows, mine.count, real.rows, real.count, dim, `${seed}:${name}`);
      byClass[name] = precisionRecall(mine.rows, mine.count, trainRows.rows, trainRows.count, dim);
    }
    const ceilingByClass = train.classNames.flatMap((_, label) => {
      const trainRows = rowsOf(realTrain.features, train.labels, label, dim);
      const heldRows = rowsOf(realHeld.features, heldOut.labels, label, dim);
      if (trainRows.count <= PR_NEIGHBOURS || heldRows.count <= PR_NEIGHBOURS) return [];
      return [precisionRecall(heldRows.rows, heldRows.count, trainRows.rows, trainRows.count, dim)];
    });
    evaluation.fdByClass = fdByClass;
    const styles = Object.values(byClass);
    evaluation.precisionRecall = {
      k: PR_NEIGHBOURS,
      withinStyle: { precision: mean(styles.map((s) => s.precision)), recall: mean(styles.map((s) => s.recall)), byClass },
      pooled: precisionRecall(fake.features, count, realTrain.features, train.count, dim),
      ceiling: {
        withinStyle: { precision: mean(ceilingByClass.map((s) => s.precision)), recall: mean(ceilingByClass.map((s) => s.recall)) },
        pooled: precisionRecall(realHeld.features, heldOut.count, realTrain.features, train.count, dim),
      },
      realImages: train.count,
      heldOutImages: heldOut.count,
    };
    const judged = judgedClasses(info, input.classNames, 'judge');
    if ('skipped' in judged) evaluation.classAccuracySkipped = judged.skipped;
    else {
      const { overall: agreed, byClass: agreedByClass } = agreement(
        fake.predictions,
        input.classes,
        Array.from(input.classes, (c) => judged.mapped[c]),
        input.classNames,
      );
      evaluation.classAccuracy = agreed;
      evaluation.classAccuracyByClass = agreedByClass;
      const wanted = Array.from(heldOut.labels, (l) => info.classNames.indexOf(heldOut.classNames[l]));
      const own = agreement(realHeld.predictions, heldOut.labels, wanted, heldOut.classNames);
      evaluation.styleClassifier = {
        id: info.id,
        version: info.version,
        heldOutAccuracy: own.overall,
        heldOutAccuracyByClass: own.byClass,
      };
    }
  } else {
    evaluation.precisionRecall = {
      k: PR_NEIGHBOURS,
      pooled: precisionRecall(fake.features, count, realTrain.features, train.count, dim),
      ceiling: { pooled: precisionRecall(realHeld.features, heldOut.count, realTrain.features, train.count, dim) },
      realImages: train.count,
      heldOutImages: heldOut.count,
    };
  }
  if (input.imagenet) {
    const e = evaluateImagesWithImageNet({
      extractor: input.imagenet,
      images: input.images,
      count,
      imageSize,
      channels,
      classNames: input.classNames,
      train,
      heldOut,
      seed,
      backend: input.backend,
      realFeatureCache: input.realFeatureCache,
    });
    evaluation.imagenet = {
      extractor: e.extractor,
      extractorVersion: e.extractorVersion,
      imageSize,
      referenceImages: e.referenceImages,
      fd: e.fd,
      fdFloor: e.fdFloor,
      fdRatio: e.fdRatio,
    };
    log(`${e.extractor}: FD ${e.fd.toPrecision(4)}, floor ${e.fdFloor.toPrecision(4)}`);
  }
  evaluation.seconds = Math.round((performance.now() - started) / 100) / 10;
  return evaluation;
}

/** A human-readable report of a judge evaluation. */
export function formatJudgeEvaluation(e: JudgeEvaluation): string {
  const f = (n: number) => (Number.isFinite(n) ? n.toPrecision(4) : String(n));
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const pr = (p: PrecisionRecall) => `precision ${p.precision.toFixed(3)}, recall ${p.recall.toFixed(3)}`;
  const k = (r: KidResult) => `${r.mean.toFixed(5)} ± ${r.std.toFixed(5)}`;
  const lines = [
    e.model ? `model: ${e.model.name} ${e.model.version}` : undefined,
    e.images ? `images: ${e.images}` : undefined,
    `judge: ${e.extractor} version ${e.extractorVersion} (held-out top-1 accuracy on every group ${pct(e.extractorHeldOutAccuracy)}` +
      `${e.styleClassifier ? `, on the model's groups ${pct(e.styleClassifier.heldOutAccuracy)}` : ''}; ${e.featureSize} features)`,
    `samples: ${e.samples}${e.size !== undefined ? ` served at ${e.size} px` : ''}${e.truncation !== undefined ? ` with truncation ${e.truncation}` : ''}, seed ${JSON.stringify(e.seed)}, against ${e.referenceImages} real renders, backend ${e.backend}`,
    `FD: ${f(e.fd)}   floor: ${f(e.fdFloor)}   ratio: ${f(e.fdRatio)}`,
    `KID: ${k(e.kid)}   floor: ${k(e.kidFloor)}`,
    e.imagenet
      ? `beside it, in ImageNet features (${e.imagenet.extractor}, the same ${e.imagenet.imageSize}-px images against ${e.imagenet.referenceImages} held-out renders): FD ${f(e.imagenet.fd)}   floor: ${f(e.imagenet.fdFloor)}   ratio: ${f(e.imagenet.fdRatio)}`
      : undefined,
  ];
  if (e.fdByClass)
    lines.push(
      `  FD / floor per style: ${Object.entries(e.fdByClass)
        .map(([n, d]) => `${n} ${d.fdRatio.toFixed(1)}x`)
        .join(', ')}`,
    );
  if (e.precisionRecall) {
    const p = e.precisionRecall;
    if (p.withinStyle && p.ceiling.withinStyle)
      lines.push(`within style (k = ${p.k}): ${pr(p.withinStyle)}   ceiling (held-out real): ${pr(p.ceiling.withinStyle)}`);
    lines.push(`pooled: ${pr(p.pooled)}   ceiling: ${pr(p.ceiling.pooled)}`);
    if (p.withinStyle)
      lines.push(
        `  per style (precision/recall): ${Object.entries(p.withinStyle.byClass)
          .map(([n, v]) => `${n} ${v.precision.toFixed(2)}/${v.recall.toFixed(2)}`)
          .join(', ')}`,
      );
  }
  if (e.flatFill)
    lines.push(
      `flat fill (share of drawn pixels the colour of their neighbours; samples / real): ${pct(e.flatFill.samples)} / ${pct(e.flatFill.real)}` +
        (e.flatFill.byClass
          ? `; per style: ${Object.entries(e.flatFill.byClass)
              .map(([n, v]) => `${n} ${pct(v.samples)} / ${pct(v.real)}`)
              .join(', ')}`
          : ''),
    );
  lines.push(
    `copies: ${pct(e.copies.copies)} of samples nearer to a training image than 95 % of held-out real images are (held-out: ${pct(e.copies.heldOutCopies)})`,
  );
  if (e.classAccuracy !== undefined) {
    lines.push(
      `style agreement: ${pct(e.classAccuracy)} (the judge's own accuracy on held-out real renders of these groups: ${pct(e.styleClassifier?.heldOutAccuracy ?? 0)})`,
    );
    lines.push(
      `  per style (samples / judge on held-out real): ${Object.entries(e.classAccuracyByClass ?? {})
        .map(([name, a]) => `${name} ${pct(a)} / ${pct(e.styleClassifier?.heldOutAccuracyByClass[name] ?? 0)}`)
        .join(', ')}`,
    );
  } else if (e.classAccuracySkipped) lines.push(`style agreement: not measured (${e.classAccuracySkipped})`);
  lines.push(`note: ${e.note}`);
  return lines.filter((l) => l !== undefined).join('\n');
}
