import { homedir } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EXPORT_LABELS, type ExportFormat, type ExportLabels } from '../../shared/annotation.ts';
import { workspaceDbPath } from './paths.ts';

function idArg(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${what} must be a positive whole number, got "${v}"`);
    return n;
  };
}

/** The workspace database, which must exist: exporting never creates an empty one. */
function existingDb(path: string | undefined): string {
  return workspaceDbPath(
    path,
    "There is no workspace database at {file}; pass --db with the app's workspace.db",
  );
}

/**
 * `deepal export`: a project's labeled set as CSV, JSON, class folders or COCO, the same code the
 * app's export button runs; and `deepal import-labels`: such an export back into a new project.
 * `--out` may start with `~` (the shell leaves `--out=~/x` and quoted paths alone); a relative
 * path is relative to the working folder, as for any command; the full path is printed.
 */
export function registerExport(
  program: Command,
  print: (text: string) => void = (t) => process.stdout.write(t),
  where: { home: string; cwd: string } = { home: homedir(), cwd: process.cwd() },
): void {
  program
    .command('export')
    .description(
      "export an annotation project's labels (human labels only unless asked); never overwrites silently",
    )
    .requiredOption(
      '--project <id>',
      'annotation project id (see the app, or deepal projects)',
      idArg('--project'),
    )
    .addOption(
      new Option(
        '--format <format>',
        'csv, json, folders (images copied into a folder per class) or coco',
      )
        .choices(['csv', 'json', 'folders', 'coco'])
        .makeOptionMandatory(),
    )
    .requiredOption(
      '--out <path>',
      'file to write (csv, json, coco) or new/empty folder (folders); ~ is your home folder',
    )
    .option('--db <file>', "workspace database (default: the app's workspace.db)")
    .option(
      '--include-predictions',
      "add the latest model's guesses for unlabeled samples, marked as model-prediction",
    )
    .option('--include-pseudo', 'add pseudo-labels, marked as pseudo')
    .addOption(
      new Option(
        '--label <which>',
        "latest: each sample's current label; consensus: the Dawid-Skene consensus of its annotators, with its posterior as confidence; all: every label in force (the history)",
      )
        .choices([...EXPORT_LABELS])
        .default('latest'),
    )
    .option('--overwrite', 'replace an existing export file (folders are never overwritten)')
    .option('--json', 'print the summary as JSON')
    .action(
      async (o: {
        project: number;
        format: ExportFormat;
        out: string;
        db?: string;
        includePredictions?: boolean;
        includePseudo?: boolean;
        label: ExportLabels;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const [{ openStore }, { exportProject }] = await Promise.all([
          import('../store/store.ts'),
          import('../annotation/exporter.ts'),
        ]);
        const store = openStore(existingDb(o.db));
        try {
          if (!store.getProject(o.project)) {
            const ids = store.listProjects().map((p) => `${p.id} (${p.name})`);
            throw new Error(
              `There is no project ${o.project} in ${store.file}; projects: ${ids.length ? ids.join(', ') : 'none'}`,
            );
          }
          const r = await exportProject(
            store,
            {
              projectId: o.project,
              format: o.format,
              out: o.out,
              includePredictions: o.includePredictions ?? false,
              includePseudo: o.includePseudo ?? false,
              label: o.label,
              overwrite: o.overwrite ?? false,
            },
            { home: where.home, base: where.cwd },
          );
          print(
            o.json
              ? `${JSON.stringify(r)}\n`
              : `Exported ${r.labels} labels${r.predictions ? ` and ${r.predictions} model predictions` : ''}${r.pseudo ? ` and ${r.pseudo} pseudo-labels` : ''} as ${r.format} to ${r.out}\n`,
          );
        } finally {
          store.close();
        }
      },
    );

  program
    .command('import-labels')
    .description(
      'create an annotation project from a labeled export (json, coco, csv, or a class folder)',
    )
    .requiredOption('--path <path>', 'the export file or folder')
    .option('--db <file>', "workspace database (default: the app's workspace.db)")
    .option('--dataset <id>', 'dataset the labels belong to (needed for CSV)', idArg('--dataset'))
    .option('--name <name>', 'name of the new project')
    .option('--annotator <name>', 'who imports (recorded on the project)', 'cli')
    .action(
      async (o: {
        path: string;
        db?: string;
        dataset?: number;
        name?: string;
        annotator: string;
      }) => {
        const [{ openStore }, { importExport }, { importPath }] = await Promise.all([
          import('../store/store.ts'),
          import('../annotation/importer.ts'),
          import('../annotation/datasetImport.ts'),
        ]);
        const db = existingDb(o.db);
        const store = openStore(db);
        try {
          const id = await importExport(
            store,
            { path: o.path, name: o.name, datasetId: o.dataset, createdBy: o.annotator },
            (p) => importPath(db, p),
          );
          const n = store.currentLabels({ projectId: id }).length;
          print(`Created project ${id} with ${n} labels from ${o.path}\n`);
        } finally {
          store.close();
        }
      },
    );
}
