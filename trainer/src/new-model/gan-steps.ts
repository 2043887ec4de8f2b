/**
 * Running `gan` subcommands from another command or script, in this process: the same parsing,
 * checks and messages as on the command line, so `gan new` and the retrain script are the documented
 * commands run in order, not a second copy of them. A fresh program per call (commander keeps the
 * values of a parse).
 */
import { Command, CommanderError } from 'commander';
import { register as registerEvaluate } from '../commands/evaluate.ts';
import { register as registerExport } from '../commands/export.ts';
import { register as registerTrain } from '../commands/train.ts';

/** A subcommand ended with a non-zero exit code (its message was printed). */
export class GanStepError extends Error {
  override name = 'GanStepError';
  constructor(
    readonly command: string,
    readonly exitCode: number,
  ) {
    super(`gan ${command} ended with exit code ${exitCode}`);
  }
}

const REGISTERS: ((program: Command) => unknown)[] = [registerTrain, registerExport, registerEvaluate];

/** Runs `gan <args…>` (train, export or evaluate) and returns its exit code; usage errors throw as on the command line. */
export async function runGanStep(args: string[]): Promise<number> {
  const program = new Command('gan').exitOverride();
  for (const register of REGISTERS) register(program);
  for (const command of program.commands) command.exitOverride();
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) throw new GanStepError(args[0], err.exitCode === 0 ? 0 : 2);
    throw err;
  } finally {
    process.exitCode = before;
  }
}
