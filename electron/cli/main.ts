import { Command, CommanderError, Option } from 'commander';
import { BACKEND_ORDER, isBackendChoice, type BackendChoice } from '../ml/backend.ts';
import { describeError } from '../services/errors.ts';
import { registerInfo } from './info.ts';
import { registerBench } from './bench.ts';
import { registerBackup } from './backup.ts';
import { registerStrategies } from './strategies.ts';
import { registerStudy } from './study.ts';
import { registerExport } from './export.ts';
import { registerReproduce } from './reproduce.ts';
import { registerSuspects } from './suspects.ts';

/** Global options every command sees. */
export interface GlobalOptions {
  backend?: BackendChoice;
}

export function backendOption(): Option {
  return new Option(
    '--backend <name>',
    `compute backend (${BACKEND_ORDER.join(', ')}); default: first that loads, or DEEPAL_BACKEND`,
  )
    .choices([...BACKEND_ORDER])
    .argParser((v: string) => {
      if (!isBackendChoice(v)) throw new Error(`unknown backend ${v}`);
      return v;
    });
}

export function buildProgram(): Command {
  const program = new Command('deepal')
    .description('DeepAL Studio: offline deep active learning from the command line')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerInfo(program);
  registerBench(program);
  registerStrategies(program);
  registerStudy(program);
  registerExport(program);
  registerSuspects(program);
  registerBackup(program);
  registerReproduce(program);
  return program;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode;
    }
    // Commands throw sentences; system and memory errors are made into sentences too.
    const described = describeError(err);
    const text =
      described.code === 'internal'
        ? err instanceof Error
          ? err.message
          : String(err)
        : described.message;
    process.stderr.write(`deepal: ${text}\n`);
    return 1;
  }
}
