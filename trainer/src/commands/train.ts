/** `gan train`: trains a DCGAN on a data set into a run directory. */
import path from 'node:path';
import { type Command, Option } from 'commander';
import {
  CHANNEL_COUNTS,
  GENERATOR_CONDITIONINGS,
  type GeneratorConditioning,
  IMAGE_SIZES,
  MAX_LATENT_SIZE,
  MAX_NETWORK_WIDTH,
} from '@gan/core';
import {
  DISCRIMINATOR_CONDITIONINGS,
  type DiscriminatorConditioning,
  GENERATOR_UPSAMPLINGS,
  type GeneratorUpsampling,
} from '@gan/core/model';
import { parseDataSpec, DataSpecError } from '../data/index.ts';
import { MissingDataError, RunExistsError, runTraining } from '../train/run.ts';
import { type InitSource, InitFromError, readInitSource, sourceArchitecture } from '../train/init-from.ts';
import {
  ClassLossWithoutProjectionError,
  ConditioningWithoutClassesError,
  FakeClassWithoutClassLossError,
  StatisticsMatchingBackgroundError,
  StatisticsMatchingWithoutColourError,
  GeneratorConditioningWithoutClassesError,
} from '../train/settings.ts';
import { ARTICLE_ADAM, type GanLoss } from '../train/step.ts';
import { AugmentPolicyError, DIFF_AUGMENT_POLICY, parseAugmentPolicy } from '../train/augment.ts';
import {
  UsageError,
  activateBackend,
  backendOption,
  threadsOption,
  fraction,
  info,
  integer,
  oneOf,
  nonNegativeNumber,
  positiveNumber,
  warn,
  type BackendFlags,
} from './common.ts';
import type { ProgressMode } from '../train/progress.ts';

interface TrainFlags extends BackendFlags {
  data?: string;
  imageSize: 8 | 16 | 32 | 64;
  channels?: 1 | 3;
  batchSize: number;
  steps?: number;
  epochs?: number;
  latentSize: number;
  generatorWidth: number;
  discriminatorWidth: number;
  lrG: number;
  lrD: number;
  loss: GanLoss;
  diffAugment: string;
  ema?: number;
  conditioning: DiscriminatorConditioning;
  classLoss: number;
  fakeClass: boolean;
  upsampling: GeneratorUpsampling;
  generatorConditioning: GeneratorConditioning;
  spectralNorm: boolean;
  lecam: number;
  statisticsMatching: number;
  visionAided: number;
  visionWarmup: number;
  beta1: number;
  beta2: number;
  seed: string;
  out?: string;
  resume: boolean;
  initFrom?: string;
  dryRun: boolean;
  checkpointEvery: number;
  previewEvery: number;
  logEvery: number;
  labels: boolean;
  background: string;
  progress: ProgressMode;
  cacheDir?: string;
}

/** The flag that sets each option of a run (commander's camel-case key → --kebab-case; labels is --no-labels). */
const flagOf = (key: string) => (key === 'labels' ? '--no-labels' : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);

const asFlag = (key: string, value: unknown) =>
  key === 'labels' ? (value ? 'its class labels' : '--no-labels') : `${flagOf(key)} ${value}`;

/**
 * The source of --init-from, with the flags that fix the data set and G's architecture set to the
 * source's where not given; given, they must be the source's (a UsageError naming --init-from).
 */
async function initSource(flags: TrainFlags, command: Command): Promise<InitSource> {
  let source: InitSource;
  try {
    source = await readInitSource(flags.initFrom!);
  } catch (err) {
    if (err instanceof InitFromError) throw new UsageError('--init-from', err.message);
    throw err;
  }
  const theirs = sourceArchitecture(source.settings);
  const mine = flags as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(theirs)) {
    if (command.getOptionValueSource(key) === 'cli' && mine[key] !== value)
      throw new UsageError(
        '--init-from',
        `${source.provenance.run} was trained with ${asFlag(key, value)}, not ${asFlag(key, mine[key])}: a run started from its weights keeps its data set and architecture`,
      );
    mine[key] = value;
  }
  if (command.getOptionValueSource('background') !== 'cli') flags.background = source.settings.background;
  // A class-conditional G stays one unless told otherwise (which checkSameArchitecture then refuses).
  if (command.getOptionValueSource('generatorConditioning') !== 'cli')
    flags.generatorConditioning = source.settings.config.generatorConditioning ?? 'input';
  return source;
}

/** runs/<data set>-<UTC time>, e.g. runs/mnist-20261127-121500. */
function defaultRunDir(data: string): string {
  const spec = parseDataSpec(data);
  const label = spec.kind === 'folder' ? path.basename(path.resolve(spec.path)) : spec.kind;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join('runs', `${label.replace(/[^A-Za-z0-9_-]/g, '_')}-${stamp}`);
}

export function register(program: Command): void {
  program
    .command('train')
    .description("Train a DCGAN (the seed article's alternating D/G optimisation) on a data set.")
    .option(
      '--data <spec>',
      'data set: mnist, twemoji, emoji[:all|<group>,…] (eight emoji styles are the classes) or folder:<path> (sub-folders are classes); required unless --resume',
    )
    .option('--image-size <n>', `image edge in pixels: ${IMAGE_SIZES.join(', ')}`, oneOf(...IMAGE_SIZES), 32)
    .option('--channels <n>', "1 (grey) or 3 (RGB); default: the data set's own", oneOf(...CHANNEL_COUNTS))
    .option('--batch-size <n>', 'images per step', integer(1, 4096), 64)
    .option(
      '--steps <n>',
      "the run's total number of steps (a resumed run continues up to it; a resume without --steps or --epochs, up to the total it was last given)",
      integer(1),
    )
    .option('--epochs <n>', 'alternative to --steps: passes over the training split', integer(1))
    .option('--latent-size <n>', 'length of the noise vector z', integer(1, MAX_LATENT_SIZE), 100)
    .option('--generator-width <n>', "channels of G's last hidden layer (doubling towards the input)", integer(1, MAX_NETWORK_WIDTH), 64)
    .option('--discriminator-width <n>', "channels of D's first layer (doubling with depth)", integer(1, MAX_NETWORK_WIDTH), 64)
    .option('--lr-g <rate>', "generator's Adam learning rate", positiveNumber, ARTICLE_ADAM.learningRate)
    .option('--lr-d <rate>', "discriminator's Adam learning rate", positiveNumber, ARTICLE_ADAM.learningRate)
    .option('--loss <kind>', 'bce (the article: non-saturating BCE) or hinge', 'bce')
    .option(
      '--diff-augment <policy>',
      `DiffAugment on every image D sees: none, or a list from color,translation,cutout (the paper's limited-data policy is ${DIFF_AUGMENT_POLICY.join(',')})`,
      'none',
    )
    .option('--ema <beta>', "export a moving average of G's weights with this decay (e.g. 0.999); default: the raw G", fraction)
    .addOption(
      new Option(
        '--conditioning <kind>',
        "how D is given the class: planes (constant one-hot planes on the image, the conditional DCGAN's) or projection (a learnt class embedding projected onto D's last features)",
      )
        .choices(DISCRIMINATOR_CONDITIONINGS)
        .default('planes'),
    )
    .option(
      '--class-loss <weight>',
      "weight of an auxiliary classification loss (AC-GAN): D's class head learns the real images' classes and G is asked for images it puts in their class; needs --conditioning projection; 0 = off",
      nonNegativeNumber,
      0,
    )
    .option(
      '--fake-class',
      "give the class head of --class-loss a K+1-th class, generated, that it learns on G's images (the semi-supervised GAN's discriminator): G must then draw each class as its real images look to that head, not only with the features that tell classes apart",
      false,
    )
    .addOption(
      new Option(
        '--upsampling <kind>',
        "how G doubles its resolution while it trains: transposed (the article's 4x4 stride-2 transposed convolutions) or resize (nearest upsampling then a 3x3 convolution, without the transposed convolution's checkerboard; exported as the transposed convolution it equals, so serving is unchanged)",
      )
        .choices(GENERATOR_UPSAMPLINGS)
        .default('transposed'),
    )
    .addOption(
      new Option(
        '--generator-conditioning <kind>',
        "how G is given the class: input (the one-hot class appended to z) or batch-norm (that, and a learnt gamma and beta per class after each of G's batch norms: class-conditional batch norm). With --init-from a plain G, batch-norm starts every class at the source's exact images",
      )
        .choices(GENERATOR_CONDITIONINGS)
        .default('input'),
    )
    .option('--spectral-norm', "spectrally normalise D's convolutions (Miyato et al. 2018); D then has no batch norms", false)
    .option(
      '--lecam <weight>',
      "weight of LeCam regularisation (Tseng et al. 2021): D's real and fake logits are pulled towards moving averages of the other's, against D memorising a small data set; 0 = off",
      nonNegativeNumber,
      0,
    )
    .option(
      '--statistics-matching <weight>',
      "weight of a term of G's loss that matches, class by class, the mean colour and gradient statistics of its samples (soft 4x4x4 colour and neighbour-difference histograms of the drawing) to the real images': against flat styles drawn shaded; colour data only; 0 = off",
      nonNegativeNumber,
      0,
    )
    .option(
      '--vision-aided <weight>',
      "G's weight on a vision-aided discriminator trained beside D (Kumari et al. 2022): small heads on a frozen ImageNet MobileNetV2 (from the nsfwjs package, installed into the cache on first use), hinge loss; 0 = off",
      nonNegativeNumber,
      0,
    )
    .option(
      '--vision-warmup <steps>',
      "steps over which G's vision-aided weight ramps in from 0 (the heads train from the first)",
      integer(0),
      500,
    )
    .option('--beta1 <b>', "Adam's beta1 (both networks)", fraction, ARTICLE_ADAM.beta1)
    .option('--beta2 <b>', "Adam's beta2 (both networks)", fraction, ARTICLE_ADAM.beta2)
    .option('--seed <s>', 'seed of the initial weights, the data order and the noise', '1')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--out <dir>', 'run directory (default runs/<data set>-<time>)')
    .option('--resume', 'continue the run in --out from its newest valid checkpoint', false)
    .option(
      '--init-from <dir>',
      "start a new run (its own options, seed, data order, Adam state and step count) from the weights of a run's newest valid checkpoint, or of one checkpoint directory (…/checkpoints/step-NNNNNN): fine-tuning, e.g. to switch to --conditioning projection or turn on --ema. G is copied exactly, so --data, --image-size, --channels, --latent-size, --generator-width, --discriminator-width and --no-labels are the source's (a different value is refused) and --background defaults to the source's; D keeps every weight that fits. Not with --resume",
    )
    .option('--dry-run', 'run one batch through both steps, print the losses, write nothing', false)
    .option('--checkpoint-every <n>', 'steps between checkpoints (one is always written at the end)', integer(1), 100)
    .option('--preview-every <n>', 'steps between preview grids and loss plots', integer(1), 100)
    .option('--log-every <n>', 'steps between progress lines when not on a terminal', integer(1), 10)
    .option('--no-labels', 'ignore class labels: train an unconditional model')
    .option('--background <colour>', 'colour transparent pixels are composited on: white, black or #rrggbb', 'white')
    .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise), bar, lines or quiet', 'auto')
    .option('--cache-dir <dir>', 'where prepared data sets are cached (default $GAN_CACHE_DIR or ./.cache)')
    .action(async (flags: TrainFlags, command: Command) => {
      if (flags.initFrom !== undefined && flags.resume)
        throw new UsageError(
          '--init-from',
          'a resumed run already has its weights: start a new run with --init-from, or --resume one, not both',
        );
      const source = flags.initFrom !== undefined ? await initSource(flags, command) : undefined;
      if (flags.resume) {
        // A resumed run keeps what it started with (the checkpoint's settings), so these would be ignored.
        const fixed = [
          'data',
          'imageSize',
          'channels',
          'batchSize',
          'latentSize',
          'generatorWidth',
          'discriminatorWidth',
          'lrG',
          'lrD',
          'loss',
          'diffAugment',
          'ema',
          'conditioning',
          'classLoss',
          'fakeClass',
          'upsampling',
          'generatorConditioning',
          'spectralNorm',
          'lecam',
          'statisticsMatching',
          'visionAided',
          'visionWarmup',
          'beta1',
          'beta2',
          'seed',
          'labels',
          'background',
        ];
        const given = fixed.filter((k) => command.getOptionValueSource(k) === 'cli');
        if (given.length) warn(`note: ${given.map(flagOf).join(', ')} ignored on --resume: the run keeps its own settings`);
      }
      // A resumed run reads its data set from its checkpoint; a new one must name it.
      if (flags.data === undefined && !flags.resume)
        throw new UsageError('--data', 'required: mnist, twemoji, emoji[:<groups>] or folder:<path>');
      try {
        if (flags.data !== undefined) parseDataSpec(flags.data);
      } catch (err) {
        if (err instanceof DataSpecError) throw new UsageError('--data', err.message);
        throw err;
      }
      if (flags.loss !== 'bce' && flags.loss !== 'hinge') throw new UsageError('--loss', 'must be bce or hinge');
      let diffAugment: ReturnType<typeof parseAugmentPolicy>;
      try {
        diffAugment = parseAugmentPolicy(flags.diffAugment);
      } catch (err) {
        if (err instanceof AugmentPolicyError) throw new UsageError('--diff-augment', err.message);
        throw err;
      }
      if (!flags.resume && !flags.labels && flags.conditioning === 'projection')
        throw new UsageError('--conditioning', 'projection needs the class labels that --no-labels drops');
      if (!flags.resume && !flags.labels && flags.generatorConditioning === 'batch-norm')
        throw new UsageError('--generator-conditioning', 'batch-norm needs class labels, and this run has none (--no-labels)');
      if (!flags.resume && flags.classLoss > 0 && flags.conditioning !== 'projection')
        throw new UsageError('--class-loss', 'the class head is part of the projection discriminator: add --conditioning projection');
      if (!flags.resume && flags.fakeClass && !(flags.classLoss > 0))
        throw new UsageError('--fake-class', 'the generated class is a class of the class head: add --class-loss <weight>');
      if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError('--steps', 'give --steps or --epochs, not both');
      if (!['auto', 'bar', 'lines', 'quiet'].includes(flags.progress))
        throw new UsageError('--progress', 'must be auto, bar, lines or quiet');
      if (flags.resume && !flags.out) throw new UsageError('--resume', 'needs --out <run dir> to say which run to continue');
      const backend = await activateBackend(flags, info);
      const controller = new AbortController();
      const onSignal = () => {
        if (controller.signal.aborted) process.exit(130); // second ^C: stop now
        warn('stopping after this step and writing a checkpoint (press ^C again to quit at once)');
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const result = await runTraining({
          data: flags.data,
          imageSize: flags.imageSize,
          channels: flags.channels,
          labels: flags.labels,
          background: flags.background,
          batchSize: flags.batchSize,
          steps: flags.steps,
          epochs: flags.epochs,
          latentSize: flags.latentSize,
          generatorWidth: flags.generatorWidth,
          discriminatorWidth: flags.discriminatorWidth,
          generatorConditioning: flags.generatorConditioning,
          generatorAdam: { ...ARTICLE_ADAM, learningRate: flags.lrG, beta1: flags.beta1, beta2: flags.beta2 },
          discriminatorAdam: { ...ARTICLE_ADAM, learningRate: flags.lrD, beta1: flags.beta1, beta2: flags.beta2 },
          recipe: {
            loss: flags.loss,
            diffAugment,
            ema: flags.ema ?? null,
            conditioning: flags.conditioning,
            classLoss: flags.classLoss,
            fakeClass: flags.fakeClass,
            upsampling: flags.upsampling,
            spectralNorm: flags.spectralNorm,
            lecam: flags.lecam,
            statisticsMatching: flags.statisticsMatching,
            visionAided: flags.visionAided,
            visionWarmup: flags.visionWarmup,
          },
          seed: flags.seed,
          backend,
          outDir: flags.out ?? defaultRunDir(flags.data!),
          resume: flags.resume,
          initFrom: source,
          dryRun: flags.dryRun,
          checkpointEvery: flags.checkpointEvery,
          previewEvery: flags.previewEvery,
          logEvery: flags.logEvery,
          progress: flags.progress,
          cacheDir: flags.cacheDir,
          signal: controller.signal,
          info,
          warn,
        });
        if (!flags.dryRun) info(`run: ${result.runDir} (step ${result.step} of ${result.totalSteps})`);
        if (result.interrupted) process.exitCode = 130;
      } catch (err) {
        if (err instanceof RunExistsError) throw new UsageError('--out', err.message);
        if (err instanceof MissingDataError) throw new UsageError('--data', err.message);
        if (err instanceof ConditioningWithoutClassesError) throw new UsageError('--conditioning', err.message);
        if (err instanceof GeneratorConditioningWithoutClassesError) throw new UsageError('--generator-conditioning', err.message);
        if (err instanceof ClassLossWithoutProjectionError) throw new UsageError('--class-loss', err.message);
        if (err instanceof FakeClassWithoutClassLossError) throw new UsageError('--fake-class', err.message);
        if (err instanceof StatisticsMatchingWithoutColourError || err instanceof StatisticsMatchingBackgroundError)
          throw new UsageError('--statistics-matching', err.message);
        if (err instanceof InitFromError) throw new UsageError('--init-from', err.message);
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
