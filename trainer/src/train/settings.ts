/**
 * A run's settings: what the run is, fixed when it starts. They are written into run.json and every
 * checkpoint, and read back (validated) when the run resumes and when it is exported, so a run stays
 * the run it started as whatever the command line says later.
 */
import { z } from 'zod';
import { type GeneratorConditioning, ModelConfigSchema } from '@gan/core/config';
import { DISCRIMINATOR_CONDITIONINGS, GENERATOR_UPSAMPLINGS } from '@gan/core/model';
import type { Dataset } from '../data/index.ts';
import { AugmentationSchema } from './augment.ts';
import { AdamSettingsSchema, GanLossSchema } from './step.ts';

/** How D is told the class: `planes` (the conditional DCGAN's input planes) or `projection` (model.ts). */
export const DiscriminatorConditioningSchema = z.enum(DISCRIMINATOR_CONDITIONINGS);

/**
 * How the two networks are trained, beyond the optimiser: the article's recipe (BCE, no augmentation,
 * the raw G exported, class planes for D) or any of the data-efficient additions, each opt-in.
 */
export const TrainingRecipeSchema = z.object({
  loss: GanLossSchema,
  /** DiffAugment policy applied to everything D sees; [] = off. */
  diffAugment: z.array(AugmentationSchema),
  /** Decay of the exported moving average of G's weights; null = export the raw G. */
  ema: z.number().min(0).lt(1).nullable(),
  /** Runs from before the option trained with class planes; unconditional runs have no class to give. */
  conditioning: DiscriminatorConditioningSchema.default('planes'),
  /**
   * Weight of the auxiliary classification loss (AC-GAN, Odena et al. 2017): D's class head learns
   * the real images' classes, and G is asked for images that head puts in the class G was given.
   * 0 = off (every run before the option). Needs the projection discriminator.
   */
  classLoss: z.number().min(0).default(0),
  /**
   * Whether D's class head has a (K+1)-th class, "generated", fitted to G's images (model.ts,
   * `fakeClass`); false for every run before the option. Needs the class loss.
   */
  fakeClass: z.boolean().default(false),
  /**
   * How G doubles its resolution while it trains (model.ts): the article's transposed convolutions, or
   * nearest upsampling then a 3x3 convolution. Exported weights are transposed-convolution ones either way.
   */
  upsampling: z.enum(GENERATOR_UPSAMPLINGS).default('transposed'),
  /** Spectral normalisation of D's convolutions, D without batch norms (model.ts); false for every run before the option. */
  spectralNorm: z.boolean().default(false),
  /** Weight λ of LeCam regularisation of D (lecam.ts); 0 = off (every run before the option). */
  lecam: z.number().min(0).default(0),
  /**
   * Weight λ of G's term on the vision-aided discriminator (vision-aided.ts: trainable heads on a frozen
   * ImageNet MobileNetV2); 0 = off (every run before the option).
   */
  visionAided: z.number().min(0).default(0),
  /**
   * Weight of G's per-class matching of colour and gradient statistics (statistics-matching.ts);
   * 0 = off (every run before the option). Colour images only.
   */
  statisticsMatching: z.number().min(0).default(0),
  /** Steps over which G's vision-aided term ramps in from 0 to λ (the heads train from the first step). */
  visionWarmup: z.number().int().min(0).default(500),
  /** The frozen feature network the heads were trained on, `<id>@<weights sha256 prefix>`; set when the run starts. */
  visionNetwork: z.string().optional(),
});
export type TrainingRecipe = z.infer<typeof TrainingRecipeSchema>;
/** A recipe as a new run may ask for it: fields with defaults may be left out. */
export type TrainingRecipeInput = z.input<typeof TrainingRecipeSchema>;

export const ARTICLE_RECIPE: TrainingRecipe = {
  loss: 'bce',
  diffAugment: [],
  ema: null,
  conditioning: 'planes',
  classLoss: 0,
  fakeClass: false,
  upsampling: 'transposed',
  spectralNorm: false,
  lecam: 0,
  visionAided: 0,
  statisticsMatching: 0,
  visionWarmup: 500,
};

/** Where a run's initial weights came from when it was started from another run's (`--init-from`, init-from.ts). */
export const InitFromSchema = z.object({
  /** The source run's directory name. */
  run: z.string().min(1),
  /** The step of the source checkpoint the weights were read from. */
  step: z.number().int().nonnegative(),
  /** sha256 of that checkpoint's tensors.bin: which weights exactly, whatever became of the source run. */
  tensorsSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type InitFrom = z.infer<typeof InitFromSchema>;

/** Fields in the order the trainer has always written them (run.json is read by people). */
export const RunSettingsSchema = z.object({
  /** The data set spec (mnist, twemoji, emoji:…, folder:…). */
  data: z.string().min(1),
  imageSize: ModelConfigSchema.shape.imageSize,
  channels: ModelConfigSchema.shape.channels,
  labels: z.boolean(),
  background: z.string(),
  batchSize: z.number().int().positive(),
  seed: z.string(),
  generatorAdam: AdamSettingsSchema,
  discriminatorAdam: AdamSettingsSchema,
  /** Runs started before recipes existed have none: they trained with the article's. */
  recipe: TrainingRecipeSchema.default(() => structuredClone(ARTICLE_RECIPE)),
  /** Absent: the run started from its seed's initialisers (every run before --init-from existed). */
  initFrom: InitFromSchema.optional(),
  config: ModelConfigSchema,
  classNames: z.array(z.string()),
  dataset: z.object({
    name: z.string(),
    images: z.number().int().nonnegative(),
    licence: z.string(),
    attribution: z.string().optional(),
  }),
  /** The backend the run last trained on. */
  backend: z.string(),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

/** Settings read back from a checkpoint that are not a run's settings. */
export class RunSettingsError extends Error {
  override name = 'RunSettingsError';
}

/** A new run that asks for a projection discriminator on a data set without classes. */
export class ConditioningWithoutClassesError extends Error {
  override name = 'ConditioningWithoutClassesError';
}

/** Class-conditional batch norm in G asked of a data set without classes. */
export class GeneratorConditioningWithoutClassesError extends Error {
  override name = 'GeneratorConditioningWithoutClassesError';
}

/** A new run that asks for the class loss without the projection discriminator its class head is part of. */
export class ClassLossWithoutProjectionError extends Error {
  override name = 'ClassLossWithoutProjectionError';
}

/** A new run that asks for the generated class without the class loss whose head it is a class of. */
export class FakeClassWithoutClassLossError extends Error {
  override name = 'FakeClassWithoutClassLossError';
}

/** --statistics-matching on a greyscale data set. */
export class StatisticsMatchingWithoutColourError extends Error {
  override name = 'StatisticsMatchingWithoutColourError';
}

/** --statistics-matching on images composited on another background than white. */
export class StatisticsMatchingBackgroundError extends Error {
  override name = 'StatisticsMatchingBackgroundError';
}

const isWhite = (background: string) => ['white', '#ffffff', '#fff'].includes(background.toLowerCase());

/** Validates settings read back from `source` (a checkpoint directory); older runs' lack of a recipe reads as ARTICLE_RECIPE. */
export function readRunSettings(saved: unknown, source: string): RunSettings {
  const parsed = RunSettingsSchema.safeParse(saved);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ');
    throw new RunSettingsError(`${source} holds settings this trainer cannot read (${issues})`);
  }
  return parsed.data;
}

/** What starting a run asks for; the data set supplies the rest. */
export interface NewRunOptions {
  data: string;
  imageSize: RunSettings['imageSize'];
  labels?: boolean;
  background?: string;
  batchSize: number;
  latentSize: number;
  generatorWidth: number;
  discriminatorWidth: number;
  /** How G is told the class (config.ts); `input` when absent. */
  generatorConditioning?: GeneratorConditioning;
  generatorAdam: RunSettings['generatorAdam'];
  discriminatorAdam: RunSettings['discriminatorAdam'];
  recipe?: TrainingRecipeInput;
  /** The run whose weights the new run starts from, if any. */
  initFrom?: InitFrom;
  seed: string;
  backend: string;
}

/**
 * The settings of a new run on `dataset`, validated as they will be read back. Throws
 * ConditioningWithoutClassesError when the recipe projects classes the data set does not have.
 */
export function newRunSettings(options: NewRunOptions, dataset: Dataset): RunSettings {
  if (options.generatorConditioning === 'batch-norm' && dataset.classNames.length === 0)
    throw new GeneratorConditioningWithoutClassesError(
      `class-conditional batch norm in G needs classes, and ${dataset.name}${options.labels === false ? ' without labels' : ''} has none`,
    );
  if (options.recipe?.conditioning === 'projection' && dataset.classNames.length === 0)
    throw new ConditioningWithoutClassesError(
      `a projection discriminator needs classes, and ${dataset.name}${options.labels === false ? ' without labels' : ''} has none`,
    );
  if ((options.recipe?.classLoss ?? 0) > 0 && options.recipe?.conditioning !== 'projection')
    throw new ClassLossWithoutProjectionError(
      'the class loss trains a class head on the projection discriminator: ask for --conditioning projection',
    );
  if (options.recipe?.fakeClass && !((options.recipe.classLoss ?? 0) > 0))
    throw new FakeClassWithoutClassLossError('the generated class is a class of the class head: ask for --class-loss <weight> too');
  if ((options.recipe?.statisticsMatching ?? 0) > 0 && dataset.channels !== 3)
    throw new StatisticsMatchingWithoutColourError(`statistics matching compares colours, and ${dataset.name} is greyscale`);
  if ((options.recipe?.statisticsMatching ?? 0) > 0 && !isWhite(options.background ?? 'white'))
    throw new StatisticsMatchingBackgroundError(
      `statistics matching reads the drawing as the pixels that differ from white: it needs --background white, not ${options.background}`,
    );
  const config = ModelConfigSchema.parse({
    imageSize: options.imageSize,
    channels: dataset.channels,
    latentSize: options.latentSize,
    generatorWidth: options.generatorWidth,
    discriminatorWidth: options.discriminatorWidth,
    numClasses: dataset.classNames.length,
    // Absent rather than `input`, so a plain G's config reads exactly as before the option.
    ...(options.generatorConditioning === 'batch-norm' && { generatorConditioning: 'batch-norm' }),
  });
  return RunSettingsSchema.parse({
    data: options.data,
    imageSize: options.imageSize,
    channels: dataset.channels,
    labels: options.labels ?? true,
    background: options.background ?? 'white',
    batchSize: options.batchSize,
    seed: options.seed,
    generatorAdam: options.generatorAdam,
    discriminatorAdam: options.discriminatorAdam,
    recipe: options.recipe ?? ARTICLE_RECIPE,
    ...(options.initFrom && { initFrom: options.initFrom }),
    config,
    classNames: dataset.classNames,
    dataset: { name: dataset.name, images: dataset.count, ...dataset.licence },
    backend: options.backend,
  });
}
