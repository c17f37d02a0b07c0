import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { wiring } from '../infra/wiring.ts';
import { parseCli } from './cli/kit.ts';
import type { Runtime } from './runtime.ts';
import { REPO_ROOT } from './runtime.ts';

/**
 * `npm run dev`: `npm start` that reloads a function when a file of its module graph changes. The
 * reload is a fresh cold start of that function (its handler and every module it imports, read again
 * from disk); the data, the queues, the schedules and the moved clock are kept. Each reload prints
 * `reloaded: order-intake, ops-api (2 files changed)`. For breakpoints in handlers:
 * `node --inspect --import tsx local/dev.ts` and attach a debugger (see the README).
 */
const USAGE = `Usage: npm run dev -- [--port N] [--data DIR]

Starts the whole suite like npm start and watches functions/ and shared/: when a file changes,
every function whose module graph includes it is reloaded (a fresh cold start; data, queues and
the clock are kept) and the reloaded functions are printed.

Options:
  --port N     port to listen on (default: $PORT or 3000)
  --data DIR   data folder (default: $SWITCHBOARD_DATA_DIR or .switchboard)
  -h, --help   this text

Breakpoints in handlers: node --inspect --import tsx local/dev.ts, then attach Chrome DevTools
(chrome://inspect) or VS Code ("Attach to Node Process").`;

/** Folders whose files end up in function bundles. */
const WATCHED = ['functions', 'shared'];

/** For every function, the repo-relative files of its module graph (node_modules left out). */
export async function moduleGraphs(root: string): Promise<Map<string, Set<string>>> {
  const entries = Object.entries(wiring.functions).map(([name, spec]) => ({ name, spec }));
  const result = await build({
    absWorkingDir: root,
    entryPoints: entries.map((e) => ({ in: e.spec.entry, out: e.name })),
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    outdir: 'out',
    logLevel: 'silent',
  });
  const graphs = new Map<string, Set<string>>();
  for (const output of Object.values(result.metafile.outputs)) {
    const entry = entries.find((e) => output.entryPoint === e.spec.entry);
    if (entry) graphs.set(entry.name, new Set(Object.keys(output.inputs)));
  }
  return graphs;
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** Watches the source folders and reloads the affected functions; returns a stop function. */
export async function watchAndReload(
  runtime: Pick<Runtime, 'lambdas'>,
  root: string,
  log: (line: string) => void,
): Promise<() => void> {
  let graphs = await moduleGraphs(root);
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const flush = async () => {
    const files = [...changed];
    changed.clear();
    let next: Map<string, Set<string>>;
    try {
      next = await moduleGraphs(root);
    } catch (error) {
      // A syntax error mid-edit: keep the old graph, reload what it says (the load reports it).
      log(`reload: ${(error as Error).message.split('\n')[0]}`);
      next = graphs;
    }
    const names = [...new Set([...graphs.keys(), ...next.keys()])].filter((name) =>
      files.some((f) => graphs.get(name)?.has(f) || next.get(name)?.has(f)),
    );
    graphs = next;
    if (names.length === 0) return;
    const plural = files.length === 1 ? 'file' : 'files';
    log(`reloaded: ${names.join(', ')} (${files.length} ${plural} changed)`);
    const results = await Promise.allSettled(names.map((n) => runtime.lambdas.reload([n])));
    results.forEach((r, i) => {
      if (r.status === 'rejected')
        log(
          `  ${names[i]} failed to load: ${String((r.reason as Error)?.message ?? r.reason).split('\n')[0]}`,
        );
    });
  };

  // One watcher per folder (not `recursive`: on Linux that follows inodes and misses an editor's
  // save-by-rename); a folder created later gets its own watcher.
  const watchers = new Map<string, FSWatcher>();
  const watchDir = (dir: string) => {
    if (watchers.has(dir)) return;
    try {
      watchers.set(
        dir,
        watch(dir, (_event, file) => {
          if (!file) return;
          const path = join(dir, file.toString());
          if (isDirectory(path)) return watchDir(path);
          if (!/\.(ts|js|mjs|json)$/.test(path)) return;
          changed.add(relative(root, path).split('\\').join('/'));
          clearTimeout(timer);
          timer = setTimeout(() => {
            running = running.then(flush, flush);
          }, 150);
        }),
      );
    } catch {
      return; // removed meanwhile
    }
    for (const entry of readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) watchDir(join(dir, entry.name));
  };
  for (const dir of WATCHED) watchDir(join(root, dir));
  return () => {
    clearTimeout(timer);
    for (const w of watchers.values()) w.close();
  };
}

const DEV_HOOK = Symbol.for('switchboard.afterStart');

if (process.argv[1] && resolve(process.argv[1]) === resolve(REPO_ROOT, 'local/dev.ts')) {
  const { values } = parseCli({
    name: 'npm run dev',
    usage: USAGE,
    options: { port: { type: 'string' }, data: { type: 'string' } },
  });
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      process.stderr.write(`npm run dev: --port must be a whole number from 1 to 65535 (see --help)\n`);
      process.exit(2);
    }
    process.env.PORT = String(port);
  }
  if (values.data !== undefined) process.env.SWITCHBOARD_DATA_DIR = values.data;
  (globalThis as Record<symbol, unknown>)[DEV_HOOK] = async (runtime: Runtime) => {
    await watchAndReload(runtime, REPO_ROOT, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(
      'Watching functions/ and shared/: a changed file reloads the functions that import it.\n',
    );
  };
  await import('./start.ts');
}
