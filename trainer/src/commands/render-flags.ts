/**
 * What `gan sample` and `gan walk` share: the flags that mirror the worker's query parameters, checked by
 * the worker's rules, and the command around a render (options, backend, the exported generator loaded
 * and disposed, the file written and reported).
 */
import { writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import {
  type ClassChoice,
  ClassNameError,
  type FastGenerator,
  type Manifest,
  MAX_SEED_LENGTH,
  randomSeed,
  resolveClassName,
} from '@gan/core';
import type { RenderFilter } from '@gan/core/upscaler';
import { loadExportedGenerator } from '../export/load.ts';
import { SERVING_PATH, activateServingBackend } from '../serving-backend.ts';
import { UsageError, info, integer, warn } from './common.ts';

export interface RenderFlags {
  seed?: string;
  class?: string;
  size?: number;
  filter?: string;
  truncation: string;
}

export const filterOption = () =>
  new Option(
    '--filter <f>',
    "bilinear, nearest or learned (the version's upscaler; default: learned where it is the version's default, else bilinear)",
  );
export const truncationOption = () =>
  new Option('--truncation <t>', 'scale the latent by t in (0, 1]: less variety, more typical images').default('1');

/** The seed (given, or random), filter and truncation, or a UsageError naming the flag. */
export function renderSettings(flags: RenderFlags): { seed: string; filter?: RenderFilter; truncation: number } {
  const seed = flags.seed ?? randomSeed();
  if (seed.length === 0 || [...seed].length > MAX_SEED_LENGTH) throw new UsageError('--seed', `must be 1 to ${MAX_SEED_LENGTH} characters`);
  if (flags.filter !== undefined && !['bilinear', 'nearest', 'learned'].includes(flags.filter))
    throw new UsageError('--filter', 'must be bilinear, nearest or learned');
  const truncation = Number(flags.truncation);
  if (!(truncation > 0 && truncation <= 1)) throw new UsageError('--truncation', 'must be a number in (0, 1]');
  return { seed, filter: flags.filter as RenderFilter | undefined, truncation };
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

/**
 * --backend and --threads on a command that renders (sample, walk, export): still accepted, so scripts
 * that pass them keep working, but out of the help and not used: a render always takes the serving
 * path (trainer/src/serving-backend.ts), so its bytes are the worker's whatever backend trains.
 */
export interface IgnoredBackendFlags {
  backend?: string;
  threads?: string;
}

export const ignoredBackendOptions = (): Option[] => [
  new Option('--backend <name>', 'ignored: renders always run on the serving path').hideHelp(),
  new Option('--threads <n>', 'ignored: renders always run on the serving path').hideHelp(),
];

/** Activates the serving path for command `name`, saying so (and that a --backend other than wasm is not used). */
export async function activateRenderBackend(name: string, flags: IgnoredBackendFlags): Promise<void> {
  if (flags.backend !== undefined && !['auto', 'wasm'].includes(flags.backend.toLowerCase())) {
    warn(`--backend ${flags.backend} is not used: gan ${name} renders on the serving path (${SERVING_PATH}), as the worker does`);
  }
  await activateServingBackend(info);
  info(`backend: ${SERVING_PATH}`);
}

/** The flags of every render command. */
export interface RenderCommandFlags extends IgnoredBackendFlags, RenderFlags {
  model: string;
  out: string;
}

/** A render command's own words: its name and description, and the help of the flags whose meaning differs. */
export interface RenderCommandSpec {
  name: string;
  description: string;
  seed: string;
  /** Options of this command alone, listed after --seed. */
  options?: (command: Command) => Command;
  class: string;
  size: string;
  /** The --out flag with its file kind, and its help. */
  out: [flags: string, description: string];
}

/** What a render is given: the checked settings and the loaded model (disposed by the command afterwards). */
export interface RenderInput {
  seed: string;
  filter?: RenderFilter;
  truncation: number;
  manifest: Manifest;
  generator: FastGenerator;
}

/** What a render gives back: the file's bytes, and what the report adds after the model and seed. */
export interface Rendered {
  bytes: Uint8Array;
  details?: string;
}

/** Registers a command that renders a file from an exported model through core's render pipeline. */
export function registerRenderCommand<F extends RenderCommandFlags>(
  program: Command,
  spec: RenderCommandSpec,
  render: (flags: F, input: RenderInput) => Rendered,
): void {
  const command = program
    .command(spec.name)
    .description(spec.description)
    .requiredOption('--model <dir>', 'exported model directory (written by gan export)')
    .option('--seed <s>', spec.seed);
  (spec.options?.(command) ?? command)
    .option('--class <c>', spec.class)
    .option('--size <n>', spec.size, integer(8, 1024))
    .addOption(filterOption())
    .addOption(truncationOption())
    .requiredOption(...spec.out);
  for (const option of ignoredBackendOptions()) command.addOption(option);
  command.action(async (flags: F) => {
    const settings = renderSettings(flags);
    await activateRenderBackend(spec.name, flags);
    const { manifest, generator } = await loadExportedGenerator(flags.model);
    try {
      const { bytes, details = '' } = render(flags, { ...settings, manifest, generator });
      await writeFile(flags.out, bytes);
      info(`wrote ${flags.out} (${manifest.name} ${manifest.version}, seed ${JSON.stringify(settings.seed)}${details})`);
    } finally {
      generator.dispose();
    }
  });
}
