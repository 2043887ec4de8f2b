/** The flags `gan sample` and `gan walk` share with the worker's query parameters, checked by the worker's rules. */
import { Option } from 'commander';
import {
  type ClassChoice,
  ClassNameError,
  type Manifest,
  MAX_SEED_LENGTH,
  type ResizeFilter,
  randomSeed,
  resolveClassName,
} from '@gan/core';
import { UsageError } from './common.ts';

export interface RenderFlags {
  seed?: string;
  class?: string;
  size?: number;
  filter: string;
  truncation: string;
}

export const filterOption = () => new Option('--filter <f>', 'resize filter: bilinear or nearest').default('bilinear');
export const truncationOption = () =>
  new Option('--truncation <t>', 'scale the latent by t in (0, 1]: less variety, more typical images').default('1');

/** The seed (given, or random), filter and truncation, or a UsageError naming the flag. */
export function renderSettings(flags: RenderFlags): { seed: string; filter: ResizeFilter; truncation: number } {
  const seed = flags.seed ?? randomSeed();
  if (seed.length === 0 || [...seed].length > MAX_SEED_LENGTH) throw new UsageError('--seed', `must be 1 to ${MAX_SEED_LENGTH} characters`);
  if (flags.filter !== 'bilinear' && flags.filter !== 'nearest') throw new UsageError('--filter', 'must be bilinear or nearest');
  const truncation = Number(flags.truncation);
  if (!(truncation > 0 && truncation <= 1)) throw new UsageError('--truncation', 'must be a number in (0, 1]');
  return { seed, filter: flags.filter, truncation };
}

/** --class as the worker reads `class`: a name or index, `each` where allowed, absent = drawn from the seed. */
export function classChoiceOf(manifest: Manifest, given: string | undefined, allowEach = false): ClassChoice {
  if (given === undefined) return manifest.classes.length > 0 ? 'seeded' : 'none';
  if (given === 'each' && allowEach && manifest.classes.length > 0) return 'each';
  try {
    return resolveClassName(manifest.name, manifest.classes, given);
  } catch (err) {
    if (err instanceof ClassNameError) throw new UsageError('--class', err.message);
    throw err;
  }
}
