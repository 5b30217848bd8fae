/**
 * One error type for every dataset reader, so callers (CLI, IPC handlers) can show the file and
 * position without parsing the message, and people can act on the message alone.
 */
export class DatasetError extends Error {
  /** The file or folder the problem is in. */
  readonly file: string;
  /** 1-based row (CSV record, counting the header as row 1) or record index, when relevant. */
  readonly row?: number;
  /** Byte offset into the (decompressed) file, when relevant. */
  readonly offset?: number;

  /**
   * @param file the file or folder at fault (put at the front of the message)
   * @param message what was expected and what was found
   */
  constructor(
    file: string,
    message: string,
    options: { row?: number; offset?: number; cause?: unknown } = {},
  ) {
    super(
      `${file}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'DatasetError';
    this.file = file;
    if (options.row !== undefined) this.row = options.row;
    if (options.offset !== undefined) this.offset = options.offset;
  }
}
