/**
 * How far a style judge's figures move with pixel noise nobody sees (trainer/src/evaluate/judge-robustness.ts):
 * the emoji model's held-out renders with N(0, σ²) 8-bit levels on every value, scored as if they
 * were samples. `gan train-classifier --judge` records the same table in a new judge's card; this
 * prints it for any saved judge (an older one, say).
 *
 *   node --import tsx bench/judge-noise.ts [--judge models/classifiers/emoji-style-32] [--levels 0,2,4 (the card's)]
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '@gan/trainer/backend';
import { judgeNoiseRobustness } from '@gan/trainer/evaluate/judge-robustness';
import { realSplits } from '@gan/trainer/evaluate/real-data';
import { loadClassifier } from '@gan/trainer/evaluate/store';
import { ROBUSTNESS_LEVELS } from '@gan/trainer/evaluate/style-judge-run';

const { values: args } = parseArgs({
  options: {
    judge: { type: 'string', default: 'models/classifiers/emoji-style-32' },
    levels: { type: 'string', default: ROBUSTNESS_LEVELS.join(',') },
  },
});
await selectBackend('wasm', { threads: 1 }, () => {});
const judge = await loadClassifier(args.judge);
try {
  const real = await realSplits('emoji', { imageSize: judge.info.imageSize, channels: 3, background: judge.info.background }, {});
  const rows = judgeNoiseRobustness(judge, real, args.levels.split(',').map(Number));
  console.log(`${judge.info.id} version ${judge.info.version} (held-out accuracy ${(judge.info.heldOutAccuracy * 100).toFixed(1)} %)`);
  console.log('| σ (levels) | FD / floor | style agreement | within-style precision / recall |');
  console.log('| ---: | ---: | ---: | --- |');
  for (const r of rows)
    console.log(
      `| ${r.levels} | ${r.fdRatio.toFixed(2)}× | ${(r.agreement * 100).toFixed(1)} % | ${r.precision.toFixed(2)} / ${r.recall.toFixed(2)} |`,
    );
} finally {
  judge.model.dispose();
}
