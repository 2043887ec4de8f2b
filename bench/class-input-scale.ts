/**
 * Style agreement and distances, by the emoji style judge, when a conditional generator's one-hot class
 * input is scaled by α (a stronger class signal into its first layer, as guidance scales are for
 * diffusion models). Not a serving option: the experiment behind docs/sampling.md's α rows. The cells
 * are `gan evaluate`'s (seed, class i mod K), rendered at the model's size and rounded to 8 bits.
 *
 *   node --import tsx bench/class-input-scale.ts [--model models/emoji] [--samples 320] [--seed judge] [--alpha 1,1.5,2,3]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { generatorInputSize } from '@gan/core/config';
import { quantise } from '@gan/core/image';
import { pointOfCell } from '@gan/core/render';
import { loadExportedGenerator } from '@gan/trainer/export/load';
import { sampleCells } from '@gan/trainer/evaluate/evaluate';
import { evaluateWithJudge, formatJudgeEvaluation } from '@gan/trainer/evaluate/judge';
import { defaultJudgeDir } from '@gan/trainer/evaluate/judge-run';
import { realSplits } from '@gan/trainer/evaluate/real-data';
import { loadClassifier } from '@gan/trainer/evaluate/store';
import { activateServingBackend } from '@gan/trainer/serving-backend';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji' },
    samples: { type: 'string', default: '320' },
    seed: { type: 'string', default: 'judge' },
    alpha: { type: 'string', default: '1,1.5,2,3' },
  },
});

await activateServingBackend();
const { manifest, generator } = await loadExportedGenerator(args.model);
const config = generator.config;
if (config.numClasses === 0) throw new Error(`${args.model} is unconditional: it has no class input to scale`);
const judge = await loadClassifier(defaultJudgeDir(manifest.dataset.name) ?? '');
const { train, heldOut } = await realSplits(
  manifest.dataset.name,
  { imageSize: manifest.imageSize, channels: 3, background: judge.info.background },
  {},
);
const count = Number(args.samples);
const width = generatorInputSize(config);
const pixels = config.imageSize * config.imageSize * config.channels;
const cells = sampleCells(config, args.seed, 0, count);
const PASS = 32;

for (const alpha of args.alpha.split(',').map(Number)) {
  const inputs = new Float32Array(count * width);
  cells.forEach((cell, i) => {
    inputs.set(pointOfCell(config, cell).latent, i * width);
    inputs[i * width + config.latentSize + (cell.classIndex ?? 0)] = alpha;
  });
  const images = new Float32Array(count * pixels);
  for (let start = 0; start < count; start += PASS) {
    const n = Math.min(PASS, count - start);
    const x = tf.tensor2d(inputs.subarray(start * width, (start + n) * width), [n, width]);
    const y = generator.forward(x);
    // As served: 8-bit pixels, then back to [-1, 1] for the judge.
    const bytes = quantise(y.dataSync() as Float32Array);
    for (let k = 0; k < bytes.length; k++) images[start * pixels + k] = bytes[k] / 127.5 - 1;
    tf.dispose([x, y]);
  }
  const e = await evaluateWithJudge({
    judge,
    images,
    count,
    classes: Int32Array.from(cells, (c) => c.classIndex ?? 0),
    classNames: manifest.classes,
    train,
    heldOut,
    seed: args.seed,
    backend: tf.getBackend(),
  });
  console.log(`=== class input × ${alpha}\n${formatJudgeEvaluation(e)}\n`);
}
judge.model.dispose();
generator.dispose();
