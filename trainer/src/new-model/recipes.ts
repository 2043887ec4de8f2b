/**
 * Training recipes as `gan train` flags: what `gan new` starts a model with and what the retrain
 * workflow's script starts a new run with (a resumed run keeps the settings in its checkpoint). The
 * shipped models' recipes are here by name, so a new model can be trained the way one of them was.
 */
export const RECIPE_NAMES = ['emoji', 'mnist', 'twemoji'] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];

export interface Recipe {
  name: RecipeName;
  summary: string;
  /** Fewest usable images a class may have: each keeps 10 % (at least 2 images) back for evaluation. */
  minImagesPerClass: number;
  /** Fewest usable images in all: the held-out 10 % must be enough to score against. */
  minImages: number;
  /** `gan train` flags; `labelled` says whether the data has classes to condition on. */
  trainFlags(labelled: boolean): string[];
}

const SIZE_AND_WIDTH = ['--image-size', '32', '--generator-width', '32', '--discriminator-width', '32'];

export const RECIPES: Record<RecipeName, Recipe> = {
  // The shipped emoji model's last stage, used from the first step: DiffAugment (the limited-data
  // recipe, Zhao et al. 2020) and a moving average of G; with classes, a projection discriminator and
  // the auxiliary class loss. At 2000 steps from scratch on the emoji data it scored FD 68.1 against
  // 69.9 for projection alone, and told the styles apart better (README, "Models").
  emoji: {
    name: 'emoji',
    summary: '32×32 colour, widths 32, DiffAugment and a moving average of G; with classes, projection discriminator and class loss',
    minImagesPerClass: 20,
    minImages: 100,
    trainFlags: (labelled) => [
      ...SIZE_AND_WIDTH,
      '--ema',
      '0.999',
      '--diff-augment',
      'color,translation,cutout',
      ...(labelled ? ['--conditioning', 'projection', '--class-loss', '1'] : ['--no-labels']),
    ],
  },
  // The DCGAN article's recipe, as the shipped mnist model was trained.
  mnist: {
    name: 'mnist',
    summary: "32×32, widths 32, the DCGAN article's recipe (class planes on D's input when there are classes)",
    minImagesPerClass: 20,
    minImages: 100,
    trainFlags: (labelled) => [...SIZE_AND_WIDTH, ...(labelled ? [] : ['--no-labels'])],
  },
  // The shipped twemoji model's: unconditional, D's learning rate halved.
  twemoji: {
    name: 'twemoji',
    summary: "32×32 colour, widths 32, unconditional, D's learning rate 0.0001",
    minImagesPerClass: 0,
    minImages: 100,
    trainFlags: () => ['--no-labels', ...SIZE_AND_WIDTH, '--lr-d', '0.0001'],
  },
};

export function isRecipeName(value: string): value is RecipeName {
  return (RECIPE_NAMES as readonly string[]).includes(value);
}
