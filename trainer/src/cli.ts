/**
 * The `gan` command line. Each subcommand lives in commands/<name>.ts and exports `register(program)`;
 * adding one is one line in COMMANDS.
 *
 * Errors: a subcommand's action throws; main() prints one line `error: <message>` and returns the
 * exit code. Bad usage is a commander error (a flag's parser throws InvalidArgumentError) or, for
 * what only the action can see, common.ts's UsageError naming the flag; integers are parsed by
 * common.ts's `integer(min, max)`.
 *
 * Exit codes: 0 done; 2 bad usage (the message names the flag); 1 anything else failed;
 * 3 the quality gate failed (gan gate); 130 training stopped by ^C after writing a checkpoint.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './commands/common.ts';
import { register as registerTrain } from './commands/train.ts';
import { register as registerSample } from './commands/sample.ts';
import { register as registerWalk } from './commands/walk.ts';
import { register as registerExport } from './commands/export.ts';
import { register as registerEvaluate } from './commands/evaluate.ts';
import { register as registerTrainClassifier } from './commands/classifier.ts';
import { register as registerPublish } from './commands/publish.ts';
import { register as registerRollback } from './commands/rollback.ts';
import { register as registerList } from './commands/list.ts';
import { register as registerPrune } from './commands/prune.ts';
import { register as registerCheckpoint } from './commands/checkpoint.ts';
import { register as registerGate } from './commands/gate.ts';
import { register as registerNew } from './commands/new.ts';
import { register as registerDataset } from './commands/dataset.ts';
import { register as registerTrainScorer } from './commands/train-scorer.ts';
import { register as registerDerive } from './commands/derive.ts';
import { register as registerUpscaler } from './commands/upscaler.ts';
import { register as registerClassHead } from './commands/class-head.ts';

const COMMANDS: ((program: Command) => void)[] = [
  registerTrain,
  registerSample,
  registerWalk,
  registerExport,
  registerEvaluate,
  registerTrainClassifier,
  registerPublish,
  registerRollback,
  registerList,
  registerPrune,
  registerCheckpoint,
  registerGate,
  registerNew,
  registerDataset,
  registerTrainScorer,
  registerDerive,
  registerUpscaler,
  registerClassHead,
];

export function buildProgram(): Command {
  const program = new Command('gan')
    .description('Train DCGAN image generators with TensorFlow.js, sample them, export them for the edge worker.')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const register of COMMANDS) register(program);
  for (const command of program.commands) command.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}

/** Runs the CLI on `argv` (process.argv form) and returns the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // The one error path of every subcommand: actions throw, nothing else prints errors or sets codes.
    if (err instanceof CommanderError) {
      // Commander has printed its message (unknown option, missing or invalid value: all name the flag).
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    if (err instanceof UsageError) return 2;
    // The message says what went wrong; a stack trace is for developers who ask for it.
    if (process.env.GAN_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
