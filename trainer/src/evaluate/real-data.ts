/** The real images an evaluation (or an extractor's training) measures against: a data set's two splits. */
import { type Dataset, loadDataset } from '../data/index.ts';
import { EvaluationError } from './evaluate.ts';

export interface DataAccess {
  /** Prepared-image cache (default: the loader's). */
  cacheDir?: string;
  /** Directory of emoji-datasource-twitter, for twemoji. */
  twemojiDir?: string;
  log?: (line: string) => void;
}

/**
 * The training and held-out splits at the evaluation's size, labels kept (they define the held-out
 * split). `requireLabels` refuses a data set without classes (an extractor is trained on them).
 */
export async function realSplits(
  data: string,
  options: { imageSize: number; channels?: 1 | 3; background?: string; requireLabels?: boolean },
  access: DataAccess,
): Promise<{ train: Dataset; heldOut: Dataset }> {
  const common = {
    imageSize: options.imageSize,
    channels: options.channels,
    background: options.background,
    labels: true,
    cacheDir: access.cacheDir,
    twemojiDir: access.twemojiDir,
    log: access.log,
  };
  const train = await loadDataset(data, { ...common, split: 'train' });
  const heldOut = await loadDataset(data, { ...common, split: 'heldout' });
  if (options.requireLabels && train.classNames.length < 2) {
    throw new EvaluationError(`${data} has no class labels: the feature extractor is trained on labels`);
  }
  if (heldOut.count < 2) throw new EvaluationError(`${data} has too few held-out images (${heldOut.count}) to evaluate against`);
  return { train, heldOut };
}
