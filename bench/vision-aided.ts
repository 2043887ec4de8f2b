/**
 * What the vision-aided discriminator costs per training step: one iteration of the emoji recipe
 * (32 px, widths 32, 8 classes, projection D with class head, DiffAugment, batch 64) without and with
 * the branch (trainer/src/train/vision-aided.ts), interleaved round by round, and the frozen network's
 * own forward and forward + input gradient for the batch. Synthetic images: cost does not depend on them.
 *
 *   node --import tsx bench/vision-aided.ts [--threads 2] [--rounds 3] [--per-round 3] [--pause <file of pids>]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '@gan/core/config';
import { buildDiscriminator, buildGenerator } from '@gan/core/model';
import { Sfc32 } from '@gan/core/prng';
import { selectBackend } from '@gan/trainer/backend';
import { defaultCacheDir } from '@gan/trainer/data/index';
import { DIFF_AUGMENT_POLICY, drawAugmentation } from '@gan/trainer/train/augment';
import { loadFrozenMobileNet } from '@gan/trainer/train/frozen-mobilenet';
import { ARTICLE_ADAM, type GanModels, createAdam, discriminatorStep, generatorStep } from '@gan/trainer/train/step';
import { type VisionBranch, VisionHeads } from '@gan/trainer/train/vision-aided';
import { pauseJobsListedIn } from './lib/pause-jobs.ts';
import { median } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'per-round': { type: 'string', default: '3' },
    pause: { type: 'string' },
  },
});

const BATCH = 64;
const CONFIG: ModelConfig = { imageSize: 32, channels: 3, latentSize: 100, generatorWidth: 32, discriminatorWidth: 32, numClasses: 8 };

const resume = pauseJobsListedIn(args.pause);
try {
  const backend = await selectBackend('wasm', { threads: Number(args.threads) });
  const network = await loadFrozenMobileNet({ cacheDir: defaultCacheDir(), log: console.error });
  const rng = Sfc32.fromSeed('bench-vision');
  const real = tf.tidy(() => tf.tanh(tf.randomNormal([BATCH, 32, 32, 3], 0, 1, 'float32', 1))) as tf.Tensor4D;

  /** A fresh recipe's networks and optimisers; `vision` adds the branch. */
  const contender = (vision: boolean) => {
    const models: GanModels = {
      config: CONFIG,
      generator: buildGenerator(CONFIG, 1),
      discriminator: buildDiscriminator(CONFIG, 1, 'projection', { classHead: true }),
      conditioning: 'projection',
    };
    const branch: VisionBranch | undefined = vision
      ? { network, heads: VisionHeads.initial(network, CONFIG.numClasses, 1), optimizer: createAdam(ARTICLE_ADAM) }
      : undefined;
    const dOpt = createAdam(ARTICLE_ADAM);
    const gOpt = createAdam(ARTICLE_ADAM);
    const labels = () => Int32Array.from({ length: BATCH }, () => rng.nextInt(CONFIG.numClasses));
    const noise = () => rng.fillNormal(new Float32Array(BATCH * CONFIG.latentSize));
    const augment = () => drawAugmentation(DIFF_AUGMENT_POLICY, BATCH, 32, rng);
    return async () => {
      const realLabels = labels();
      await discriminatorStep(
        models,
        dOpt,
        { real, realLabels, noise: noise(), fakeLabels: labels(), realAugmentation: augment(), fakeAugmentation: augment() },
        'bce',
        1,
        undefined,
        branch,
      );
      await generatorStep(
        models,
        gOpt,
        { noise: noise(), labels: labels(), augmentation: augment() },
        'bce',
        1,
        branch && { branch, weight: 1 },
      );
    };
  };

  const time = async (run: () => Promise<void> | void) => {
    const started = performance.now();
    await run();
    return performance.now() - started;
  };
  const forward = () => tf.dispose(network.apply(real, false));
  const backward = () =>
    tf.dispose(tf.grad((x: tf.Tensor) => tf.addN(network.apply(x as tf.Tensor4D, true).map((f) => tf.sum(f))) as tf.Scalar)(real));
  const contenders: [string, () => Promise<void> | void][] = [
    ['iteration, emoji recipe', contender(false)],
    ['iteration, emoji recipe + vision-aided D', contender(true)],
    ['frozen network forward (fused), batch 64', forward],
    ['frozen network forward + input gradient, batch 64', backward],
  ];
  const times = contenders.map(() => [] as number[]);
  for (const [, run] of contenders) await run(); // warm-up: Adam's slots, XNNPACK's operators
  const perRound = Number(args['per-round']);
  for (let round = 0; round < Number(args.rounds); round++)
    for (const [i, [, run]] of contenders.entries()) for (let k = 0; k < perRound; k++) times[i].push(await time(run));

  console.log(`wasm, ${backend.threads} thread(s), batch ${BATCH}; ${network.source}; median of ${times[0].length}`);
  console.log('| what | ms |');
  console.log('| --- | --- |');
  for (const [i, [name]] of contenders.entries()) console.log(`| ${name} | ${median(times[i]).toFixed(0)} |`);
  console.log(`vision-aided iteration / plain iteration: ${(median(times[1]) / median(times[0])).toFixed(2)}×`);
} finally {
  resume();
}
