// electron-builder.yml `extends` this file. electron-builder loads plain JavaScript only, so the
// TypeScript behind it is loaded through tsx here: packaging tooling only, the packaged app has no
// TypeScript and no tsx.
import { tsImport } from 'tsx/esm/api';

const { dynamicConfig } = await tsImport('./config.ts', import.meta.url);

/** @param {{ projectDir: string }} request electron-builder's configuration request */
export default (request) =>
  dynamicConfig({
    projectDir: request.projectDir,
    // stderr: a test runner reads the packager's stdout as its own protocol.
    log: (line) => process.stderr.write(`${line}\n`),
  });
