import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** Repository root (infra/bundle → ..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** One function to bundle. */
export interface BundleJob {
  /** Manifest name (or `signing-key-rotator`): labels errors and the metafile. */
  functionName: string;
  /** Handler module, repository-relative (`functions/token/handler.ts`); its export is `handler`. */
  entry: string;
  /** Where `index.mjs` and `index.mjs.map` are written: the Lambda asset directory. */
  outdir: string;
  /** Where esbuild's metafile is written: outside the asset (it is a build report, not code). */
  metafilePath: string;
  /** Build-time modules: repository-relative path → source that replaces it in this bundle. */
  replacements: Record<string, string>;
}

export interface BundleResult {
  functionName: string;
  /** Size of `index.mjs`, minified. */
  bytes: number;
  metafilePath: string;
}

/** Every Lambda handler file is `index.mjs`, exporting `handler` (runtime handler `index.handler`). */
export const HANDLER = 'index.handler';

/**
 * Packages replaced in every bundle by a module written for Lambda (`shared/lambda-shims/`, see each
 * module's TSDoc), with the only modules allowed to import them (checked on every bundle's metafile,
 * so a new importer fails the build test instead of meeting a partial stand-in at run time). The
 * local runtime and the tests run from source and never see these aliases.
 */
export const LAMBDA_SHIMS: Record<string, { module: string; importers: RegExp }> = {
  '@aws-sdk/credential-provider-node': {
    module: 'shared/lambda-shims/credential-provider-node.ts',
    importers: /^node_modules\/@aws-sdk\/client-[a-z0-9-]+\/dist-es\/runtimeConfig\.js$/,
  },
  semver: {
    module: 'shared/lambda-shims/semver.ts',
    importers: /^node_modules\/(cls-hooked\/index\.js|aws-xray-sdk-core\/dist\/lib\/patchers\/aws_p\.js)$/,
  },
};

const LAMBDA_ALIASES = Object.fromEntries(
  Object.entries(LAMBDA_SHIMS).map(([pkg, shim]) => [pkg, resolve(REPO_ROOT, shim.module)]),
);

const BUILD_TIME = 'build-time';

/**
 * Serves the build-time replacements: an import that resolves to one of their paths is loaded from
 * the `build-time` namespace instead, so the metafile names it `build-time:<path>` and shows that the
 * source form (and the manifest it imports) stayed out.
 */
function buildTimePlugin(replacements: Record<string, string>): esbuild.Plugin {
  const byPath = new Map(Object.entries(replacements).map(([p, source]) => [resolve(REPO_ROOT, p), source]));
  const names = [...new Set([...byPath.keys()].map((p) => p.split(/[\\/]/).pop()!))];
  const filter = new RegExp(`(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);
  return {
    name: 'switchboard-build-time-modules',
    setup(build) {
      build.onResolve({ filter }, (args) => {
        const absolute = resolve(args.resolveDir, args.path);
        if (!byPath.has(absolute)) return undefined;
        return { path: relative(REPO_ROOT, absolute), namespace: BUILD_TIME };
      });
      build.onLoad({ filter: /.*/, namespace: BUILD_TIME }, (args) => ({
        contents: byPath.get(resolve(REPO_ROOT, args.path)),
        loader: 'ts',
        resolveDir: REPO_ROOT,
      }));
    },
  };
}

/**
 * esbuild settings of every function: one minified ESM file for Node.js 22 with a `require` shim for
 * the CommonJS dependencies it inlines; a linked source map without the sources' text (names and
 * positions only, so CloudWatch stack traces point at `functions/…/x.ts:line` with
 * `--enable-source-maps`, without shipping the code twice); legal comments beside the bundle.
 */
export function esbuildOptions(job: BundleJob): esbuild.BuildOptions {
  return {
    absWorkingDir: REPO_ROOT,
    entryPoints: { index: resolve(REPO_ROOT, job.entry) },
    outdir: job.outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'external',
    metafile: true,
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    alias: LAMBDA_ALIASES,
    plugins: [buildTimePlugin(job.replacements)],
  };
}

/**
 * Bundles one function into `job.outdir` and writes its metafile to `job.metafilePath`. The source
 * map's paths are rewritten relative to the repository root (`functions/token/issue-token.ts`), so
 * stack traces read the same wherever the asset was built.
 */
export async function bundleFunction(job: BundleJob): Promise<BundleResult> {
  let result: esbuild.BuildResult<{ metafile: true }>;
  try {
    result = (await esbuild.build(esbuildOptions(job))) as esbuild.BuildResult<{ metafile: true }>;
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    const lines = (failure.errors ?? []).map(
      (e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`,
    );
    throw new Error(
      `bundling ${job.functionName} (${job.entry}) failed: ${lines.join('; ') || String(error)}`,
    );
  }
  const mapPath = resolve(job.outdir, 'index.mjs.map');
  const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { sources: string[] };
  map.sources = map.sources.map((s) =>
    s.includes(':') && !s.startsWith('.') ? s : relative(REPO_ROOT, resolve(job.outdir, s)),
  );
  writeFileSync(mapPath, JSON.stringify(map));
  mkdirSync(dirname(job.metafilePath), { recursive: true });
  writeFileSync(job.metafilePath, JSON.stringify(result.metafile));
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('index.mjs'));
  if (!output) throw new Error(`bundling ${job.functionName}: esbuild wrote no index.mjs`);
  return { functionName: job.functionName, bytes: output[1].bytes, metafilePath: job.metafilePath };
}

/**
 * The tracing stack Powertools Tracer brings into every bundle: the X-Ray SDK and its CommonJS
 * dependencies (not tree-shakable), ~100 KB a function.
 */
export const TRACING_STACK =
  /^node_modules\/(aws-xray-sdk-core|cls-hooked|shimmer|emitter-listener|async-listener|atomic-batcher|@aws-lambda-powertools\/tracer)\//;

/**
 * Size budgets of each function's `index.mjs`, checked on the synthesized assets from esbuild's
 * metafile by `test/infra/bundles.test.ts`: the code and every dependency but the tracing stack
 * within 500 KiB, and the whole file within 600 KiB (see the README's bundle table for why two).
 */
export const BUNDLE_BUDGET_BYTES = 500 * 1024;
export const BUNDLE_TOTAL_CEILING_BYTES = 600 * 1024;

/**
 * Functions over the 500 KiB goal, each with a ceiling just above today's size (so growth still fails)
 * and the reason. Both AppDirect functions carry the whole order use case (screening engine included)
 * plus five SDK clients (DynamoDB, EventBridge, SQS, Secrets Manager, and the SigV4 signer); ops-api
 * reads every entity and needs SQS and CloudWatch for the dead-letter pages. The next cut is to keep
 * `jose` out of handlers whose routes are all public, and to share one zod core via a Lambda layer.
 */
export const BUNDLE_BUDGET_EXCEPTIONS: Readonly<Record<string, { budget: number; reason: string }>> = {
  'appdirect-events': {
    budget: 545 * 1024,
    reason: 'order use case + screening + OAuth 1.0a + 5 SDK clients',
  },
  'appdirect-notifier': { budget: 530 * 1024, reason: 'order use case + screening + 5 SDK clients' },
  'licence-provisioner': {
    budget: 506 * 1024,
    reason: 'SES v2 client, licence mail claims (exactly-once e-mails) and the channel failure wording',
  },
  'ops-api': {
    budget: 530 * 1024,
    reason: 'every entity, SQS and CloudWatch for dead letters, the JWKS verifier (kid, cached key set)',
  },
  'webhook-dispatch': {
    budget: 515 * 1024,
    reason: 'KMS client: endpoint secrets are sealed with envelope encryption (GenerateDataKey)',
  },
};

/** The budget (besides tracing) and the whole-file ceiling of one function. */
export function bundleBudget(functionName: string): { budget: number; ceiling: number } {
  const budget = BUNDLE_BUDGET_EXCEPTIONS[functionName]?.budget ?? BUNDLE_BUDGET_BYTES;
  return { budget, ceiling: budget + (BUNDLE_TOTAL_CEILING_BYTES - BUNDLE_BUDGET_BYTES) };
}

/** Bytes of `index.mjs` from the tracing stack, and the rest (from a metafile). */
export function bundleShares(metafile: esbuild.Metafile): { total: number; tracing: number; rest: number } {
  const output = Object.entries(metafile.outputs).find(([file]) => file.endsWith('index.mjs'))?.[1];
  if (!output) throw new Error('the metafile names no index.mjs');
  let tracing = 0;
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (TRACING_STACK.test(input)) tracing += bytesInOutput;
  }
  return { total: output.bytes, tracing, rest: output.bytes - tracing };
}
