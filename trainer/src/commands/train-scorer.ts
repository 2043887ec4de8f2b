/** `gan train-scorer`: the scorer a model version can ship for candidate sampling (sampler/train-scorer.ts). */
import type { Command } from 'commander';
import { trainScorer } from '../sampler/train-scorer.ts';
import { type BackendFlags, activateBackend, backendOption, info, integer, threadsOption } from './common.ts';

interface TrainScorerFlags extends BackendFlags {
  model: string;
  out: string;
  width: number;
  steps: number;
  batchSize: number;
  seed: string;
  lr: number;
  checkpointEvery: number;
  data?: string;
}

export function register(program: Command): void {
  program
    .command('train-scorer')
    .description(
      "Train a small projection discriminator against an exported model's frozen generator, to score its samples for candidate sampling (gan derive --scorer).",
    )
    .requiredOption('--model <dir>', 'exported model directory (its generator is held fixed)')
    .requiredOption('--out <dir>', 'run directory: checkpoint/ (resumed when present) and scorer/ (what gan derive takes)')
    .option('--width <n>', "channels of the scorer's first convolution (later ones double)", integer(1, 64), 8)
    .option('--steps <n>', 'training steps in all (a resumed run continues up to this)', integer(1), 3000)
    .option('--batch-size <n>', 'real and generated images per step, each', integer(1, 1024), 64)
    .option('--seed <text>', 'seed of the sample latents, batches and flips', 'scorer')
    .option('--lr <rate>', "Adam's learning rate", Number, 2e-4)
    .option('--checkpoint-every <n>', 'steps between checkpoints', integer(1), 250)
    .option('--data <spec>', "data set (default: the model's own, its train split)")
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: TrainScorerFlags) => {
      await activateBackend(flags, info);
      await trainScorer({
        model: flags.model,
        out: flags.out,
        width: flags.width,
        steps: flags.steps,
        batchSize: flags.batchSize,
        seed: flags.seed,
        learningRate: flags.lr,
        checkpointEvery: flags.checkpointEvery,
        data: flags.data,
        log: info,
      });
    });
}
