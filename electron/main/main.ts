import { app, BrowserWindow, dialog, session, shell, type WebContents } from 'electron';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EVENTS_CHANNEL } from '../../shared/contract.ts';
import { MlWorker } from '../services/mlWorker.ts';
import { createServices, type Services } from '../services/services.ts';
import { registerIpc } from './ipc.ts';
import { appResourcesDir, userDataDir, workerEntry } from './paths.ts';
import { externalLinkAllowed, requestAllowed } from './policy.ts';
import { smokeReportPath, writeSmokeReport } from './smoke.ts';

/**
 * The desktop shell: one window on the built renderer, locked down (context isolation, sandbox,
 * no Node in the page, strict CSP, no navigation, no new windows, no permissions, no DevTools in
 * a packaged build), talking to the services only through the contract's IPC channels. The
 * packaged binary is hardened further by its fuses (build/packaging/fuses.ts).
 */

// Bundled to dist-electron/main.mjs by electron/main/build.ts; the source tree is one level up.
// DEEPAL_ROOT (npm start) is a development aid: a packaged app never loads code named by the
// environment, as its fuses refuse NODE_OPTIONS.
const mainBundle = fileURLToPath(import.meta.url);
const root =
  (app.isPackaged ? undefined : process.env.DEEPAL_ROOT) ?? resolve(dirname(mainBundle), '..');
const resourcesDir = appResourcesDir(app.isPackaged, process.resourcesPath, root);
const rendererDir = join(root, 'dist', 'renderer');
const rendererIndex = join(rendererDir, 'index.html');
const rendererUrlPrefix = pathToFileURL(rendererDir).href + '/';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

function dataDirFromArgs(): string {
  const arg = process.argv.find((a) => a.startsWith('--data-dir='));
  return arg ? resolve(arg.slice('--data-dir='.length)) : userDataDir();
}

let services: Services | null = null;
let mainWindow: BrowserWindow | null = null;

function isTrusted(contents: WebContents, frameUrl: string): boolean {
  return (
    mainWindow !== null &&
    contents === mainWindow.webContents &&
    frameUrl.startsWith(rendererUrlPrefix)
  );
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1360,
    height: 880,
    minWidth: 760,
    minHeight: 560,
    title: 'DeepAL Studio',
    show: false,
    backgroundColor: '#f4f6f9',
    // Windows and macOS take the icon from the executable; Linux window managers from here.
    ...(process.platform === 'linux' ? { icon: join(resourcesDir, 'icons', '512x512.png') } : {}),
    webPreferences: {
      devTools: !app.isPackaged,
      preload: join(root, 'dist-electron', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // The app never navigates: the few web links it shows open in the system browser, anything
  // else is refused.
  win.webContents.on('will-navigate', (e, url) => {
    if (!url.startsWith(rendererUrlPrefix)) e.preventDefault();
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (externalLinkAllowed(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-attach-webview', (e) => e.preventDefault());
  void win.loadFile(rendererIndex);
  return win;
}

async function start(): Promise<void> {
  const dataDir = dataDirFromArgs();
  mkdirSync(dataDir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  services = createServices({
    dataDir,
    dbPath: join(dataDir, 'workspace.db'),
    mode: 'electron',
    version: pkg.version,
    choosePath: async (kind) => {
      const options: Electron.OpenDialogOptions = {
        title: kind === 'folder' ? 'Choose a dataset folder' : 'Choose a dataset file',
        properties: [kind === 'folder' ? 'openDirectory' : 'openFile'],
      };
      const r = mainWindow
        ? await dialog.showOpenDialog(mainWindow, options)
        : await dialog.showOpenDialog(options);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    chooseSavePath: async (request) => {
      const options: Electron.SaveDialogOptions = {
        ...request,
        properties: ['createDirectory', 'showOverwriteConfirmation'],
      };
      const r = mainWindow
        ? await dialog.showSaveDialog(mainWindow, options)
        : await dialog.showSaveDialog(options);
      return r.canceled || !r.filePath ? null : r.filePath;
    },
    // The bundled worker (dist-electron/ml.worker.mjs): no TypeScript at run time.
    worker: new MlWorker(pathToFileURL(workerEntry(mainBundle))),
  });

  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  // No network beyond the app's own files.
  ses.webRequest.onBeforeRequest((details, callback) => {
    callback({ cancel: !requestAllowed(details.url, rendererUrlPrefix, app.isPackaged) });
  });

  registerIpc(services, isTrusted);
  services.onEvent((event) => {
    if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(EVENTS_CHANNEL, event);
  });
  mainWindow = createWindow();
  mainWindow.on('closed', () => {
    mainWindow = null;
  });
  const smoke = smokeReportPath(process.argv);
  if (smoke) {
    const win = mainWindow;
    const svc = services;
    win.webContents.once('did-finish-load', () => {
      void writeSmokeReport(win, svc, smoke, app.isPackaged).finally(() => app.quit());
    });
  }
}

app.enableSandbox();
if (!app.requestSingleInstanceLock()) app.quit();
else {
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (ev, url) => {
      if (!url.startsWith(rendererUrlPrefix)) ev.preventDefault();
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  app.whenReady().then(start, (err: unknown) => {
    console.error(err);
    app.exit(1);
  });
  app.on('window-all-closed', () => app.quit());
  let quitting = false;
  app.on('before-quit', (e) => {
    if (quitting || !services) return;
    // Let a running study stop between batches and the database close cleanly.
    e.preventDefault();
    quitting = true;
    void services.close().finally(() => app.quit());
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0 && services) mainWindow = createWindow();
  });
}
