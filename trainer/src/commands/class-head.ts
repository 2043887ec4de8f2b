/**
 * `gan class-head`: how a training run's D class head (--class-loss) sorts held-out real images and
 * G's images of each class (evaluate/class-head.ts). A diagnostic of training, not a measure of the
 * model: the head is part of what G trains against.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadDataset } from '../data/index.ts';
import { type ClassHeadReport, NoClassHeadError, classHeadReport } from '../evaluate/class-head.ts';
import { InitFromError, readInitSource } from '../train/init-from.ts';
import { TrainingState } from '../train/state.ts';
import { type BackendFlags, UsageError, activateBackend, backendOption, info, integer, threadsOption, warn } from './common.ts';

interface ClassHeadFlags extends BackendFlags {
  run: string;
  samplesPerClass: number;
  realPerClass: number;
  seed: string;
  json?: string;
  cacheDir?: string;
}

const percent = (v: number) => `${(100 * v).toFixed(1)} %`;

function formatReport(report: ClassHeadReport): string {
  const width = Math.max(5, ...report.classNames.map((n) => n.length));
  const header = ['class'.padEnd(width), 'real right', "G's in class", ...(report.generatedClass ? ["G's called generated"] : [])];
  const rows = report.classNames.map((name, k) =>
    [
      name.padEnd(width),
      `${percent(report.real.inClass[k])} of ${report.real.counts[k]}`,
      `${percent(report.generated.inClass[k])} of ${report.generated.perClass}`,
      ...(report.generated.calledGenerated ? [percent(report.generated.calledGenerated[k])] : []),
    ].join('  '),
  );
  const { calledGenerated } = report.generated;
  const all = [
    'all'.padEnd(width),
    percent(report.real.overall),
    percent(report.generated.overall),
    ...(calledGenerated ? [percent(calledGenerated.reduce((a, b) => a + b, 0) / calledGenerated.length)] : []),
  ];
  return [header.join('  '), ...rows, all.join('  ')].join('\n');
}

export function register(program: Command): void {
  program
    .command('class-head')
    .description(
      "Show how a run's D class head (--class-loss) sorts held-out real images and G's images of each class: " +
        "a head that calls G's images their class far more often than it gets real ones right is met by features real images lack",
    )
    .requiredOption('--run <dir>', 'a run directory (its newest valid checkpoint) or one checkpoint directory')
    .option('--samples-per-class <n>', "G's images per class", integer(1, 10_000), 64)
    .option('--real-per-class <n>', 'at most this many held-out real images per class', integer(1, 100_000), 100)
    .option('--seed <text>', "seed of G's noise", 'class-head')
    .option('--json <file>', 'also write the report as JSON')
    .option('--cache-dir <dir>', 'where prepared data sets are cached (default $GAN_CACHE_DIR or ./.cache)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags: ClassHeadFlags) => {
      let source: Awaited<ReturnType<typeof readInitSource>>;
      try {
        source = await readInitSource(flags.run);
      } catch (err) {
        if (err instanceof InitFromError) throw new UsageError('--run', err.message);
        throw err;
      }
      const { settings, checkpoint } = source;
      if (settings.recipe.classLoss === 0) throw new UsageError('--run', 'this run trained without --class-loss: its D has no class head');
      await activateBackend(flags, warn);
      const heldout = await loadDataset(settings.data, {
        imageSize: settings.imageSize,
        channels: settings.channels,
        labels: settings.labels,
        background: settings.background,
        split: 'heldout',
        cacheDir: flags.cacheDir,
        log: warn,
      });
      // The vision-aided heads play no part here, so their frozen network is not loaded.
      const state = TrainingState.initial({ ...settings, recipe: { ...settings.recipe, visionAided: 0 } });
      try {
        await state.restore(checkpoint);
        const report = classHeadReport(state.models, heldout, {
          samplesPerClass: flags.samplesPerClass,
          realPerClass: flags.realPerClass,
          batchSize: settings.batchSize,
          seed: flags.seed,
        });
        info(`${source.provenance.run} at step ${checkpoint.state.step}: D's class head on held-out real images and on G's`);
        info(formatReport(report));
        if (flags.json) await writeFile(flags.json, `${JSON.stringify({ run: source.provenance, ...report }, null, 2)}\n`);
      } catch (err) {
        if (err instanceof NoClassHeadError) throw new UsageError('--run', err.message);
        throw err;
      } finally {
        state.dispose();
      }
    });
}
