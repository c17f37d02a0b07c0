import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parseCli, progress, runCli, usage } from '../local/cli/kit.ts';

/**
 * Builds the operator console (Preact + esbuild) into memory: `index.html`, `app.js`, `app.css`.
 * The local runtime serves the result at `/console/`; the CDK console site uploads it to S3 with a
 * `config.json` naming the API. No build step to remember: both build from source.
 */
const here = dirname(fileURLToPath(import.meta.url));

export interface ConsoleFile {
  body: Buffer;
  contentType: string;
}

export async function buildConsole(): Promise<Map<string, ConsoleFile>> {
  const result = await build({
    entryPoints: { app: join(here, 'src/main.tsx') },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    outdir: join(here, 'out'),
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const files = new Map<string, ConsoleFile>();
  files.set('index.html', {
    body: readFileSync(join(here, 'index.html')),
    contentType: 'text/html; charset=utf-8',
  });
  for (const f of result.outputFiles) {
    const name = f.path.split('/').pop()!;
    files.set(name, {
      body: Buffer.from(f.contents),
      contentType: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
    });
  }
  return files;
}

/** Security headers of every console file (the same values CloudFront adds in AWS). */
export const consoleSecurityHeaders = (apiOrigin = "'self'"): Record<string, string> => ({
  'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${apiOrigin}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'`,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
});

/** `npm run console:build -- <dir>`: writes the built files (for inspection or another host). */
export async function writeConsole(outDir: string, config: { apiUrl: string }): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files = await buildConsole();
  for (const [name, f] of files) await writeFile(join(outDir, name), f.body);
  await writeFile(join(outDir, 'config.json'), JSON.stringify(config));
  return [...files.keys(), 'config.json'];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { positionals } = parseCli({
    name: 'npm run console:build --',
    usage: `usage: npm run console:build -- [<outDir> [<apiUrl>]]
  Bundles the operator console into <outDir> (default console/dist) with config.json {apiUrl}
  (default '' = same origin).`,
    options: {},
    allowPositionals: true,
  });
  runCli('npm run console:build --', async () => {
    if (positionals.length > 2) usage(`unexpected argument ${positionals[2]}`);
    const out = positionals[0] ?? join(here, 'dist');
    const step = progress('bundling the console');
    const written = await writeConsole(out, { apiUrl: positionals[1] ?? '' });
    step.done();
    process.stdout.write(`console built into ${out}: ${written.join(', ')}\n`);
  });
}
