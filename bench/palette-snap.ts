/**
 * A check of the emoji style judge, not of a model: does a change a viewer hardly sees move its
 * figures? Each of a model's samples (32 px, as `gan evaluate` draws them with the seed) has its drawn
 * pixels snapped to k colours (trainer/src/evaluate/palette-snap.ts), and
 * the samples are scored as they are and snapped, by the judge (style-judge features, which include
 * palette statistics) and in ImageNet MobileNetV2 features (no hand-made statistics).
 *
 *   node --import tsx bench/palette-snap.ts [--model models/emoji] [--colours 12] [--samples 320] [--seed judge] [--judge <dir>]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '@gan/trainer/backend';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { evaluateImagesWithImageNet } from '@gan/trainer/evaluate/colour';
import { loadMobileNetExtractor } from '@gan/trainer/evaluate/imagenet';
import { evaluateWithJudge } from '@gan/trainer/evaluate/judge';
import { defaultJudgeDir, judgedSamples } from '@gan/trainer/evaluate/judge-run';
import { realSplits } from '@gan/trainer/evaluate/real-data';
import { snapToPalette } from '@gan/trainer/evaluate/palette-snap';
import { loadClassifier } from '@gan/trainer/evaluate/store';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji' },
    colours: { type: 'string', default: '12' },
    samples: { type: 'string', default: '320' },
    seed: { type: 'string', default: 'judge' },
    judge: { type: 'string' },
  },
});
const colours = Number(args.colours);
const samples = Number(args.samples);

await selectBackend('wasm', { threads: 1 }, () => {});
const { manifest, generator } = await loadExportedGenerator(args.model);
const judgeDir = args.judge ?? defaultJudgeDir(manifest.dataset.name);
if (!judgeDir) throw new Error(`no style judge for ${manifest.dataset.name}`);
const judge = await loadClassifier(judgeDir);
const mobilenet = await loadMobileNetExtractor({ cacheDir: path.resolve('.cache') });
const real = await realSplits(manifest.dataset.name, { imageSize: manifest.imageSize, channels: 3, background: 'white' }, {});
const raw = judgedSamples(generator, args.seed, samples);
const snapped = raw.images.slice();
const size = manifest.imageSize * manifest.imageSize * 3;
for (let i = 0; i < samples; i++) snapToPalette(snapped.subarray(i * size, (i + 1) * size), colours);

console.log(`${manifest.name}@${manifest.version}, ${samples} samples at ${manifest.imageSize} px (seed ${args.seed})`);
console.log(`| samples | judge ${judge.info.version}: FD / floor, agreement, within P / R | MobileNetV2: FD / floor |`);
console.log('| --- | --- | --- |');
for (const [name, images] of [
  ['as drawn', raw.images],
  [`snapped to ${colours} colours`, snapped],
] as const) {
  const common = { images, count: samples, classes: raw.classes, classNames: manifest.classes, seed: args.seed, backend: 'wasm' };
  const byJudge = evaluateWithJudge({ ...common, judge, train: real.train, heldOut: real.heldOut });
  const byMobileNet = evaluateImagesWithImageNet({
    ...common,
    extractor: mobilenet,
    imageSize: manifest.imageSize,
    channels: 3,
    train: real.train,
    heldOut: real.heldOut,
    realFeatureCache: path.resolve('.cache', 'features'),
  });
  const within = byJudge.precisionRecall?.withinStyle;
  console.log(
    `| ${name} | ${byJudge.fdRatio.toFixed(1)}×, ${((byJudge.classAccuracy ?? 0) * 100).toFixed(1)} %, ${within?.precision.toFixed(2)} / ${within?.recall.toFixed(2)} | ${byMobileNet.fdRatio.toFixed(2)}× |`,
  );
}
mobilenet.dispose();
judge.model.dispose();
generator.dispose();
