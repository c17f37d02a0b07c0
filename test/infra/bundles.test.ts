import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openApiModule, routeTableModule } from '../../infra/bundle/build-time-modules.ts';
import {
  BUNDLE_BUDGET_BYTES,
  BUNDLE_BUDGET_EXCEPTIONS,
  BUNDLE_TOTAL_CEILING_BYTES,
  bundleBudget,
  bundleFunction,
  bundleShares,
  LAMBDA_SHIMS,
} from '../../infra/bundle/esbuild.ts';
import { wiring } from '../../infra/wiring.ts';
import { DEMO_LIST_PATH } from '../../local/screening/demo-list.ts';
import { localSecretValues } from '../../local/secrets.ts';
import { type BundledSynth, synthWithBundles } from './bundled-synth.ts';

// A real synth bundles every function (esbuild in a child process per function): tens of seconds on
// a busy machine. Nothing here is timed.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 600_000 });

let synth: BundledSynth;
beforeAll(() => {
  synth = synthWithBundles('dev');
});
afterAll(() => synth?.cleanup());

/** Every string of at least 8 characters inside a secret value (nested objects included). */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.length >= 8) out.push(value);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) stringsOf(v, out);
  }
  return out;
}

const PRIVATE_KEY_MARKERS: Array<[string, RegExp]> = [
  ['PEM private key', /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/],
  ['JWK private member', /"d"\s*:\s*"[A-Za-z0-9_-]{20,}"/],
];

describe('bundle purity: nothing local in a deployable', () => {
  it('synthesizes one bundle per manifest function, plus the signing-key rotator', () => {
    expect(synth.functions.map((f) => f.name).sort()).toEqual(
      [...Object.keys(wiring.functions), 'signing-key-rotator'].sort(),
    );
    for (const fn of synth.functions) {
      expect(fn.handler, fn.name).toBe('index.handler');
      // The asset holds the code, its source map and the third-party legal notices: nothing else.
      expect(fn.files, fn.name).toContain('index.mjs');
      expect(fn.files, fn.name).toContain('index.mjs.map');
      expect(
        fn.files.filter((f) => !['index.mjs', 'index.mjs.map', 'index.mjs.LEGAL.txt'].includes(f)),
        fn.name,
      ).toEqual([]);
    }
  });

  it('no bundle contains a local/ module, the manifest, or test code (esbuild metafile)', () => {
    for (const fn of synth.functions) {
      const inputs = Object.keys(fn.metafile.inputs);
      expect(inputs.length, fn.name).toBeGreaterThan(50);
      expect(
        inputs.filter((i) => /(^|\/)local\//.test(i) && !i.includes('node_modules')),
        fn.name,
      ).toEqual([]);
      expect(
        inputs.filter((i) => /^infra\/wiring(\.ts|\/)/.test(i)),
        `${fn.name} bundles the manifest`,
      ).toEqual([]);
      expect(
        inputs.filter((i) => i.startsWith('test/')),
        fn.name,
      ).toEqual([]);
    }
  });

  it('HTTP functions carry a build-time route table of their own routes only', () => {
    for (const fn of synth.functions) {
      const routes = wiring.routes.filter((r) => r.function === fn.name);
      if (routes.length === 0) continue;
      // The bundled module is exactly the one generated for this function (its routes, nothing else).
      const table = fn.metafile.inputs['build-time:shared/http/route-table.ts'];
      expect(table?.bytes, fn.name).toBe(Buffer.byteLength(routeTableModule(wiring, fn.name)));
      const code = readFileSync(join(fn.assetDir, 'index.mjs'), 'utf8');
      for (const r of routes) expect(code, `${fn.name}: ${r.path}`).toContain(JSON.stringify(r.path));
      if (fn.name === 'meta') {
        expect(fn.metafile.inputs['build-time:functions/meta/openapi-document.ts']?.bytes).toBe(
          Buffer.byteLength(openApiModule(wiring)),
        );
      }
    }
  });

  it('no asset contains a local secret value, a private key or the demo screening list', () => {
    const needles = Object.entries(localSecretValues).flatMap(([name, value]) =>
      stringsOf(value?.()).map((s) => ({ what: `local ${name} value`, s })),
    );
    expect(needles.length).toBeGreaterThan(5);
    const demo = JSON.parse(readFileSync(DEMO_LIST_PATH, 'utf8')) as Array<{ name: string }>;
    const demoNames = demo.map((e) => e.name).filter((n) => n.length >= 10);
    expect(demoNames.length).toBeGreaterThan(3);
    const findings: string[] = [];
    // Directory assets (functions, the console's static files) and any zip asset alike.
    const files: Array<{ file: string; text: string }> = [];
    for (const asset of synth.assetDirs) {
      if (statSync(asset).isFile()) {
        expect(asset.endsWith('.zip'), asset).toBe(true);
        for (const [name, bytes] of Object.entries(unzipSync(readFileSync(asset))))
          files.push({ file: `${asset}!${name}`, text: strFromU8(bytes) });
        continue;
      }
      for (const entry of readdirSync(asset, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = join(entry.parentPath, entry.name);
        files.push({ file, text: readFileSync(file, 'utf8') });
      }
    }
    // The console's static files are scanned too, not only the functions.
    expect(files.some((f) => f.file.endsWith('index.html') && f.text.includes('<'))).toBe(true);
    for (const { file, text } of files) {
      for (const n of needles) if (text.includes(n.s)) findings.push(`${file}: ${n.what}`);
      for (const [what, re] of PRIVATE_KEY_MARKERS) if (re.test(text)) findings.push(`${file}: ${what}`);
      for (const name of demoNames) if (text.includes(name)) findings.push(`${file}: demo list entry`);
      if (text.includes('local/screening')) findings.push(`${file}: path into local/`);
    }
    expect(findings).toEqual([]);
  });

  it('source maps ship without source text, with repository-relative paths, and Node reads them', () => {
    for (const fn of synth.functions) {
      const map = JSON.parse(readFileSync(join(fn.assetDir, 'index.mjs.map'), 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      expect(map.sourcesContent, fn.name).toBeUndefined();
      expect(map.sources.some((s) => s.startsWith('functions/') || s.startsWith('shared/'))).toBe(true);
      expect(map.sources.filter((s) => s.startsWith('..') || s.startsWith('/'))).toEqual([]);
      expect(readFileSync(join(fn.assetDir, 'index.mjs'), 'utf8').trimEnd()).toMatch(
        /\/\/# sourceMappingURL=index\.mjs\.map$/,
      );
      expect(fn.environment.NODE_OPTIONS, fn.name).toContain('--enable-source-maps');
    }
  });

  it('a stack trace thrown in a bundle names the TypeScript file and line (CloudWatch reads the same)', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'sb-trace-'));
    try {
      await bundleFunction({
        functionName: 'trace-fixture',
        entry: 'test/infra/fixtures/throws.ts',
        outdir,
        metafilePath: join(outdir, 'meta.json'),
        replacements: {},
      });
      const run = spawnSync(
        process.execPath,
        [
          '--enable-source-maps',
          '--input-type=module',
          '-e',
          `const { handler } = await import(${JSON.stringify(pathToFileURL(join(outdir, 'index.mjs')).href)});
           try { await handler(); } catch (e) { console.log(e.stack); }`,
        ],
        { encoding: 'utf8' },
      );
      expect(run.stdout).toContain('deliberate failure');
      expect(run.stdout).toMatch(/test\/infra\/fixtures\/throws\.ts:\d+:\d+/);
      // Without the flag the same bundle points into minified code only.
      const raw = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { handler } = await import(${JSON.stringify(pathToFileURL(join(outdir, 'index.mjs')).href)});
           try { await handler(); } catch (e) { console.log(e.stack); }`,
        ],
        { encoding: 'utf8' },
      );
      expect(raw.stdout).not.toContain('throws.ts');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

/**
 * A template value with its references replaced: an `Fn::Join` keeps its literal parts (a JSON list of
 * queues stays JSON), any other intrinsic becomes a placeholder for its variable.
 */
function resolveIntrinsic(name: string, value: unknown, publicJwk: string): string {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) {
    const [separator, parts] = join;
    // A URL built on a reference (`${api.apiEndpoint}/.well-known/jwks.json`) stays a URL.
    return parts
      .map((p, i) =>
        typeof p === 'string'
          ? p
          : i === 0 && name.endsWith('_URL')
            ? 'https://example.invalid'
            : `placeholder-${name.toLowerCase()}`,
      )
      .join(separator);
  }
  return placeholder(name, publicJwk);
}

/** A value for an environment variable whose template value is a CloudFormation intrinsic. */
function placeholder(name: string, publicJwk: string): string {
  if (name === 'AUTH_PUBLIC_JWK') return publicJwk;
  if (name.endsWith('_ARN')) return `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;
  if (name.endsWith('_URL')) return `https://example.invalid/${name.toLowerCase()}`;
  return `placeholder-${name.toLowerCase()}`;
}

describe('bundle size (esbuild metafile)', () => {
  it(`every function: at most ${BUNDLE_BUDGET_BYTES / 1024} KiB besides the tracing stack, ${BUNDLE_TOTAL_CEILING_BYTES / 1024} KiB in all`, () => {
    const kib = (n: number) => `${(n / 1024).toFixed(0).padStart(4)} KiB`;
    const rows = synth.functions.map((f) => {
      const { total, tracing, rest } = bundleShares(f.metafile);
      return {
        f,
        total,
        tracing,
        rest,
        line: `${f.name.padEnd(22)} ${kib(total)} = ${kib(rest)} + ${kib(tracing)} tracing`,
      };
    });
    console.info(`bundle sizes (index.mjs, minified):\n${rows.map((r) => r.line).join('\n')}`);
    expect(rows.filter((r) => r.rest > bundleBudget(r.f.name).budget).map((r) => r.line)).toEqual([]);
    expect(rows.filter((r) => r.total > bundleBudget(r.f.name).ceiling).map((r) => r.line)).toEqual([]);
    // An exception is for a function that exists and needs it: a stale one would hide growth elsewhere.
    for (const name of Object.keys(BUNDLE_BUDGET_EXCEPTIONS)) {
      const row = rows.find((r) => r.f.name === name);
      expect(row, name).toBeDefined();
      expect(row!.rest, name).toBeGreaterThan(BUNDLE_BUDGET_BYTES);
    }
    for (const r of rows) {
      expect(r.total).toBe(r.f.bytes);
      expect(statSync(join(r.f.assetDir, 'index.mjs')).size).toBe(r.total);
      // Powertools Tracer is on every function: the stack is there, and only it is set apart.
      expect(r.tracing, r.f.name).toBeGreaterThan(50_000);
      expect(r.tracing, r.f.name).toBeLessThan(150_000);
    }
  });

  it('Lambda shims replace their package everywhere and are imported only by the modules they were written for', () => {
    for (const fn of synth.functions) {
      const inputs = fn.metafile.inputs;
      for (const [pkg, shim] of Object.entries(LAMBDA_SHIMS)) {
        const importers = Object.entries(inputs)
          .filter(([, input]) => input.imports.some((i) => i.original === pkg))
          .map(([path]) => path);
        expect(
          importers.filter((path) => !shim.importers.test(path)),
          `${fn.name}: ${pkg}`,
        ).toEqual([]);
        // The real package never made it in.
        expect(
          Object.keys(inputs).filter((path) => path.startsWith(`node_modules/${pkg}/`)),
          `${fn.name}: ${pkg}`,
        ).toEqual([]);
      }
    }
  });

  it('every bundle starts in a fresh Node process with its template environment (cold start)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = JSON.stringify(publicKey.export({ format: 'jwk' }));
    const failures: string[] = [];
    for (const fn of synth.functions) {
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'example',
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        LAMBDA_TASK_ROOT: fn.assetDir,
        NODE_NO_WARNINGS: '1',
      };
      for (const [k, v] of Object.entries(fn.environment)) {
        env[k] = typeof v === 'string' ? v : resolveIntrinsic(k, v, publicJwk);
      }
      const run = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(pathToFileURL(join(fn.assetDir, 'index.mjs')).href)});
           if (typeof m.handler !== 'function') throw new Error('no handler export');`,
        ],
        { encoding: 'utf8', env, cwd: fn.assetDir },
      );
      if (run.status !== 0) failures.push(`${fn.name}: ${run.stderr.split('\n').slice(0, 6).join(' | ')}`);
    }
    expect(failures).toEqual([]);
  });
});
