/**
 * Turns whatever a handler or a worker job threw into a contract error: a code the UI can act on
 * and a sentence a person can act on. Raw JavaScript and system error text ("ENOTDIR: not a
 * directory, scandir ...", "Invalid typed array length: ...") never reaches a person as is.
 *
 * Errors are recognised by name and shape, not by class, so this module imports nothing heavy and
 * serves the ML worker thread as well as the main process.
 */
import type { ContractError, ErrorCode } from '../../shared/contract.ts';

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'invalid-argument',
  'not-found',
  'busy',
  'cancelled',
  'unknown-channel',
  'unauthorized',
  'failed',
  'internal',
]);

/** Errors that carry their own code (ServiceError, WorkerJobError). */
const CODED = new Set(['ServiceError', 'WorkerJobError']);

/** Errors about what the person gave: their messages are written for people already. */
const INPUT_ERRORS = new Set([
  'DatasetError',
  'ProjectInputError',
  'ExportError',
  'JobInputError',
  'StoreInputError',
  'NewerSchemaError',
]);

interface SystemError {
  code: string;
  path?: string;
  dest?: string;
  syscall?: string;
  message: string;
}

function isSystemError(err: unknown): err is SystemError {
  const e = err as Partial<SystemError> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.code === 'string' &&
    /^E[A-Z]+$/.test(e.code) &&
    typeof e.message === 'string'
  );
}

/** A system call's failure as a sentence naming the path. */
export function describeSystemError(err: SystemError): ContractError {
  // rename(tmp, target) names the temporary file first; the person chose the target.
  const path = err.dest ?? err.path;
  const at = path ? ` ${path}` : '';
  const it = path ?? 'the file';
  switch (err.code) {
    case 'ENOENT':
      return {
        code: 'invalid-argument',
        message: `There is no file or folder${at}; check the path.`,
      };
    case 'ENOTDIR':
      return {
        code: 'invalid-argument',
        message: `${it} is not a folder (part of the path is a file); check the path.`,
      };
    case 'EISDIR':
      return {
        code: 'invalid-argument',
        message: `${it} is a folder, but a file was expected there; give a file name.`,
      };
    case 'EEXIST':
    case 'ENOTEMPTY':
      return {
        code: 'invalid-argument',
        message: `${it} already exists; choose another name or remove it first.`,
      };
    case 'EACCES':
    case 'EPERM':
      return {
        code: 'failed',
        message: `Permission denied for ${it}; choose a place you may use, or change its permissions.`,
      };
    case 'ENOSPC':
    case 'EDQUOT':
      return {
        code: 'failed',
        message: `The disk holding ${it} is full; free some space and try again.`,
      };
    case 'EROFS':
      return { code: 'failed', message: `${it} is on a read-only drive; choose another place.` };
    case 'EMFILE':
    case 'ENFILE':
      return {
        code: 'failed',
        message: 'Too many files are open at once; close some programs and try again.',
      };
    case 'ENAMETOOLONG':
      return {
        code: 'invalid-argument',
        message: `The path is too long:${at}; use a shorter one.`,
      };
    case 'ELOOP':
      return {
        code: 'invalid-argument',
        message: `${it} leads into a loop of symbolic links; check the path.`,
      };
    case 'EBUSY':
      return { code: 'busy', message: `${it} is in use by another program; try again later.` };
    case 'EIO':
      return {
        code: 'failed',
        message: `The drive reported a read or write error on ${it}; check the drive.`,
      };
    default:
      return {
        code: 'failed',
        message: `The system refused an operation on ${it} (${err.code}); check the path and try again.`,
      };
  }
}

/** Any thrown value as a contract error; see the module comment. */
export function describeError(err: unknown): ContractError {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (CODED.has(name) && typeof e?.code === 'string' && CODES.has(e.code))
    return { code: e.code as ErrorCode, message };
  if (INPUT_ERRORS.has(name)) return { code: 'invalid-argument', message };
  if (name === 'JobBusyError') return { code: 'busy', message };
  if (/^Invalid study settings/.test(message)) return { code: 'invalid-argument', message };
  if (isSystemError(err)) return describeSystemError(err);
  if (
    /Invalid typed array length|Array buffer allocation failed|Invalid array length|Invalid string length|Cannot create a Buffer larger than|out of memory/i.test(
      message,
    )
  ) {
    return {
      code: 'failed',
      message:
        'The data is too large to hold in memory; use a smaller subset (pool or test size) or a smaller file.',
    };
  }
  if (/Maximum call stack size exceeded/.test(message)) {
    return {
      code: 'failed',
      message:
        'The data is too large for one step of the app (its call stack overflowed); use a smaller subset, and please report it.',
    };
  }
  // A wrapped error ("Entropy, repeat 1: <cause>") is as actionable as its cause, in context.
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause !== undefined && cause !== err) {
    const inner = describeError(cause);
    const causeText = (cause as { message?: unknown } | null)?.message;
    if (inner.code !== 'internal') {
      // "<context>: <cause's raw text>" keeps its context with the cause made readable; a
      // message that says more than its cause (a note appended) is kept as written.
      if (typeof causeText === 'string' && causeText !== '' && message.endsWith(causeText))
        return {
          code: inner.code,
          message: `${message.slice(0, message.length - causeText.length)}${inner.message}`,
        };
      return { code: inner.code, message };
    }
  }
  if (name === 'SqliteError') {
    return {
      code: 'failed',
      message: `The workspace database refused the change (${message}); nothing was saved by it.`,
    };
  }
  return {
    code: 'internal',
    message: `An unexpected problem stopped this: ${message}. If it happens again, please report it with this message.`,
  };
}
