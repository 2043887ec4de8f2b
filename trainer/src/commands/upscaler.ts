/**
 * `gan upscaler train|evaluate|export`: the learned ×4 upscaler of a model's images (core/src/upscaler.ts),
 * trained on real pairs of the emoji data set (upscale/pairs.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_UPSCALER_WIDTHS, Upscaler, type UpscalerConfig } from '@gan/core/upscaler';
import { defaultCacheDir } from '../data/index.ts';
import { loadMobileNetExtractor } from '../evaluate/imagenet.ts';
import { loadExportedGenerator } from '../export/load.ts';
import { UPSCALER_EVAL_SEED, type UpscalerEvaluation, evaluateUpscaler } from '../upscale/evaluate.ts';
import { exportUpscaler } from '../upscale/export.ts';
import { loadFeatureStage } from '../upscale/networks.ts';
import { loadEmojiPairs } from '../upscale/pairs.ts';
import { type UpscalerSettings, checkpointUpscaler, runTraining } from '../upscale/train.ts';
import { activateRenderBackend } from './render-flags.ts';
import { UsageError, activateBackend, info, integer, nonNegativeNumber, positiveNumber } from './common.ts';

interface TrainFlags {
  out: string;
  steps: number;
  batchSize: number;
  lr: number;
  widths: string;
  refineWidth?: number;
  refineBlocks?: number;
  featureWeight: number;
  adversarialWeight: number;
  adversarialSamples?: string;
  noise: number;
  blur: number;
  seed: number;
  checkpointEvery: number;
  initFrom?: string;
  cacheDir?: string;
  threads: number;
}

function parseWidths(text: string): number[] {
  const widths = text.split(',').map((s) => Number(s.trim()));
  if (widths.length < 1 || widths.length > 6 || widths.some((w) => !Number.isInteger(w) || w < 1 || w > 64)) {
    throw new UsageError('--widths', 'must be 1 to 6 comma-separated integers from 1 to 64');
  }
  return widths;
}

export function register(program: Command): void {
  const upscaler = program.command('upscaler').description("A learned 4x upscaler of the emoji model's images (filter=learned).");
  upscaler
    .command('train')
    .description('Train (or resume) the upscaler on real emoji pairs: model-size renders in, 4x renders as targets.')
    .requiredOption('--out <dir>', 'run directory (resumed when it holds a checkpoint)')
    .option('--steps <n>', 'training steps', integer(1), 2000)
    .option('--batch-size <n>', 'pairs per step', integer(1, 256), 16)
    .option('--lr <x>', 'Adam learning rate', positiveNumber, 1e-3)
    .option('--widths <list>', 'hidden convolution widths', DEFAULT_UPSCALER_WIDTHS.join(','))
    .option('--refine-width <n>', 'channels of a 3x3 residual refinement at the 4x size (default: none)', integer(1, 16))
    .option('--refine-blocks <n>', 'residual refinements in turn, each of --refine-width channels (default: 1)', integer(1, 3))
    .option('--feature-weight <x>', 'weight of the MobileNetV2 Conv1 feature loss (0: none)', nonNegativeNumber, 0)
    .option('--adversarial-weight <x>', 'weight of the PatchGAN loss (0: no discriminator)', nonNegativeNumber, 0)
    .option(
      '--adversarial-samples <model>',
      "exported generator whose images the PatchGAN judges upscaled, instead of the pairs' small renders (needs --adversarial-weight)",
    )
    .option('--noise <x>', 'largest Gaussian noise on the inputs, in [-1, 1] units (0: none)', nonNegativeNumber, 0)
    .option('--blur <x>', 'largest blend with a 3x3 box blur of the inputs, 0 to 1 (0: none)', nonNegativeNumber, 0)
    .option('--seed <n>', 'initial weights and batches', integer(0), 1)
    .option('--checkpoint-every <n>', 'steps between checkpoints (and held-out PSNR)', integer(1), 250)
    .option('--init-from <run>', "start from another run's last checkpoint (its upscaler, and discriminator if any)")
    .option('--cache-dir <dir>', 'prepared data and packages (default $GAN_CACHE_DIR or ./.cache)')
    .option('--threads <n>', 'wasm threads', integer(1, 8), 1)
    .action(async (flags: TrainFlags) => {
      if (flags.blur > 1) throw new UsageError('--blur', 'must be from 0 to 1');
      if (flags.refineBlocks !== undefined && flags.refineWidth === undefined)
        throw new UsageError('--refine-blocks', 'the refinements need their channels: add --refine-width <n>');
      if (flags.adversarialSamples !== undefined && !(flags.adversarialWeight > 0))
        throw new UsageError('--adversarial-samples', 'needs --adversarial-weight above 0');
      await activateBackend({ backend: 'wasm', threads: flags.threads }, info);
      const pairs = await loadEmojiPairs({ size: 32, cacheDir: flags.cacheDir, log: info });
      const config: UpscalerConfig = {
        scale: 4,
        channels: 3,
        inputSize: pairs.size,
        widths: parseWidths(flags.widths),
        ...(flags.refineWidth === undefined ? {} : { refineWidth: flags.refineWidth }),
        // Absent for one: a one-residual upscaler's config reads as it always has.
        ...(flags.refineBlocks !== undefined && flags.refineBlocks > 1 && { refineBlocks: flags.refineBlocks }),
      };
      const settings: UpscalerSettings = {
        config,
        steps: flags.steps,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        featureWeight: flags.featureWeight,
        adversarialWeight: flags.adversarialWeight,
        degrade: { noise: flags.noise, blur: flags.blur },
        seed: flags.seed,
        checkpointEvery: flags.checkpointEvery,
        initFrom: flags.initFrom === undefined ? undefined : path.resolve(flags.initFrom),
        adversarialSamples: flags.adversarialSamples === undefined ? undefined : path.resolve(flags.adversarialSamples),
      };
      const stage =
        flags.featureWeight > 0 ? await loadFeatureStage({ cacheDir: flags.cacheDir ?? defaultCacheDir(), log: info }) : undefined;
      await runTraining({ runDir: flags.out, settings, pairs, stage, log: info });
      info(`trained ${flags.out} to step ${flags.steps}`);
    });

  upscaler
    .command('evaluate')
    .description(
      "Score runs' upscalers: held-out real emoji 32 -> 128 (PSNR and ImageNet FD against bicubic and bilinear) and the FD that upscaling the model's samples adds at 64 and 128 px (learned against bilinear).",
    )
    .requiredOption('--run <dirs>', "run directories, comma-separated (each one's last checkpoint)")
    .requiredOption('--model <dir>', 'exported generator whose samples are scored (e.g. models/emoji)')
    .option('--samples <n>', 'generator samples', integer(2, 10000), 600)
    .option('--seed <s>', "the samples' seed: sample i is <seed>#i (another seed measures the figures' noise)", UPSCALER_EVAL_SEED)
    .option('--references <n>', 'real renders per size the samples are measured against (every k-th icon; default all)', integer(2))
    .option('--out <file.json>', 'write the figures as JSON (one entry per run)')
    .option('--cache-dir <dir>', 'prepared data, cached features and packages (default $GAN_CACHE_DIR or ./.cache)')
    .action(
      async (flags: {
        run: string;
        model: string;
        samples: number;
        seed: string;
        references?: number;
        out?: string;
        cacheDir?: string;
      }) => {
        // Rendered on the serving path, as the worker renders: the figures are of the served bytes.
        await activateRenderBackend('upscaler evaluate', {});
        const pairs = await loadEmojiPairs({ size: 32, cacheDir: flags.cacheDir, log: info });
        const { generator } = await loadExportedGenerator(flags.model);
        const extractor = await loadMobileNetExtractor({ cacheDir: flags.cacheDir ?? defaultCacheDir(), log: info });
        const memo = new Map<string, Float32Array>();
        const results: (UpscalerEvaluation & { run: string })[] = [];
        for (const run of flags.run.split(',').map((r) => r.trim())) {
          const { settings, step, weights } = await checkpointUpscaler(run);
          const upscaler = Upscaler.fromWeights(settings.config, weights);
          info(`${run} (step ${step}):`);
          const cpu = process.cpuUsage();
          const evaluation = await evaluateUpscaler({
            upscaler,
            pairs,
            generator,
            extractor,
            samples: flags.samples,
            seed: flags.seed,
            references: flags.references,
            cacheDir: flags.cacheDir,
            log: info,
            memo,
          });
          const used = process.cpuUsage(cpu);
          info(`evaluated in ${((used.user + used.system) / 1e6).toFixed(0)} s of CPU`);
          results.push({ run: `${run}@${step}`, ...evaluation });
          if (flags.out) await writeFile(flags.out, `${JSON.stringify(results, null, 2)}\n`);
        }
      },
    );

  upscaler
    .command('export')
    .description("Export the last stage's upscaler (upscaler.json, shards, manifest.json with sha256, card) for gan derive --upscaler.")
    .requiredOption('--runs <dirs>', "the stages' run directories, comma-separated, in order (the last is exported)")
    .requiredOption('--model <dir>', 'the exported generator it was made for')
    .requiredOption('--out <dir>', 'directory to write (replaced)')
    .option('--name <name>', 'upscaler name', 'emoji-x4')
    .option('--evaluation <file.json>', 'figures from gan upscaler evaluate --out, recorded in the manifest and card')
    .option('--card-notes <file>', 'Markdown appended to the card')
    .action(async (flags: { runs: string; model: string; out: string; name: string; evaluation?: string; cardNotes?: string }) => {
      await activateRenderBackend('upscaler export', {});
      const { manifest: model, generator } = await loadExportedGenerator(flags.model);
      generator.dispose();
      const runs = flags.runs.split(',').map((r) => r.trim());
      // gan upscaler evaluate --out writes one entry per run: the exported (last) run's is recorded.
      const figures = flags.evaluation
        ? (JSON.parse(await readFile(flags.evaluation, 'utf8')) as (UpscalerEvaluation & { run: string })[])
        : [];
      const evaluation = figures.find((e) => e.run.split('@')[0] === runs[runs.length - 1]);
      if (flags.evaluation && !evaluation) throw new UsageError('--evaluation', `has no entry for ${runs[runs.length - 1]}`);
      const manifest = await exportUpscaler({
        runs,
        out: flags.out,
        name: flags.name,
        trainedFor: { name: model.name, version: model.version },
        dataset: { ...model.dataset },
        metrics: evaluation ? { evaluation } : {},
        cardNotes: flags.cardNotes ? await readFile(flags.cardNotes, 'utf8') : undefined,
      });
      info(`exported upscaler ${manifest.name} ${manifest.version} to ${flags.out}: ${manifest.files.map((f) => f.path).join(', ')}`);
    });
}
