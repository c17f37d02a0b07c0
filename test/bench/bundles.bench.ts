import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BUNDLE_BUDGET_BYTES,
  BUNDLE_TOTAL_CEILING_BYTES,
  bundleFunction,
  bundleShares,
  REPO_ROOT,
} from '../../infra/bundle/esbuild.ts';
import { type BundledFunction, synthWithBundles } from '../infra/bundled-synth.ts';
import { recordFigure } from './table.ts';

/**
 * Deployables: the size of every function's bundle (from esbuild's metafile, as `cdk synth` builds
 * it) and its cold init — the module initialisation Lambda runs before the first invocation —
 * measured in fresh Node processes with the function's own environment (Lambda mode: tracer on,
 * `--enable-source-maps`), beside a bundle built the same way that imports and constructs only
 * the AWS SDK clients the function uses (its peer). The median of `BENCH_COLD_RUNS` (default 9)
 * interleaved runs each; goal: ours ≤ 1.3 × the peer.
 */
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 9);

/** SDK client classes by package, as the functions construct them. */
const CLIENTS: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'DynamoDBClient',
  '@aws-sdk/client-eventbridge': 'EventBridgeClient',
  '@aws-sdk/client-secrets-manager': 'SecretsManagerClient',
  '@aws-sdk/client-sesv2': 'SESv2Client',
  '@aws-sdk/client-sqs': 'SQSClient',
};

/** The peer of a function: its SDK clients (and the document client), nothing else. */
function peerSource(fn: BundledFunction): string {
  const inputs = Object.keys(fn.metafile.inputs);
  const used = Object.keys(CLIENTS).filter((pkg) => inputs.some((i) => i.startsWith(`node_modules/${pkg}/`)));
  const doc = inputs.some((i) => i.startsWith('node_modules/@aws-sdk/lib-dynamodb/'));
  return [
    ...used.map((pkg) => `import { ${CLIENTS[pkg]} } from '${pkg}';`),
    ...(doc ? ["import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';"] : []),
    `export const clients = [${used
      .map((pkg) =>
        pkg === '@aws-sdk/client-dynamodb' && doc
          ? 'DynamoDBDocumentClient.from(new DynamoDBClient({}))'
          : `new ${CLIENTS[pkg]}({})`,
      )
      .join(', ')}];`,
    'export const handler = async () => clients.length;',
    '',
  ].join('\n');
}

function environmentOf(fn: BundledFunction, publicJwk: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_NO_WARNINGS: '1',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
    AWS_SESSION_TOKEN: 'example',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: fn.assetDir,
    _HANDLER: 'index.handler',
  };
  for (const [k, v] of Object.entries(fn.environment)) {
    if (typeof v === 'string') env[k] = v;
    else if (k === 'AUTH_PUBLIC_JWK') env[k] = publicJwk;
    else if (k.endsWith('_ARN')) env[k] = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${k}`;
    else if (k.endsWith('_URL')) env[k] = `https://example.invalid/${k.toLowerCase()}`;
    else env[k] = `placeholder-${k.toLowerCase()}`;
  }
  return env;
}

/** Milliseconds to import a bundle in a fresh process (its module init). */
function initMs(file: string, env: Record<string, string>, cwd: string): number {
  const run = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)});
       process.stdout.write(String(performance.now() - t));`,
    ],
    { encoding: 'utf8', env, cwd },
  );
  if (run.status !== 0) throw new Error(`${file}: ${run.stderr.split('\n').slice(0, 4).join(' | ')}`);
  return Number(run.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

export default async function (): Promise<void> {
  const synth = synthWithBundles('dev');
  mkdirSync(join(REPO_ROOT, 'bench-results'), { recursive: true });
  // Inside the repository (git-ignored) so the peers resolve the same node_modules.
  const work = mkdtempSync(join(REPO_ROOT, 'bench-results', '.cold-'));
  try {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = JSON.stringify(publicKey.export({ format: 'jwk' }));
    console.log(
      `| function | bundle | besides tracing (≤ ${kib(BUNDLE_BUDGET_BYTES)}) | tracing stack | cold init | SDK-only peer | ratio |`,
    );
    console.log('|---|---|---|---|---|---|---|');
    const ratios: number[] = [];
    let largest = { name: '', bytes: 0 };
    for (const fn of synth.functions) {
      const shares = bundleShares(fn.metafile);
      if (shares.total > largest.bytes) largest = { name: fn.name, bytes: shares.total };
      const peerDir = join(work, fn.name);
      const entry = join(peerDir, 'peer.ts');
      rmSync(peerDir, { recursive: true, force: true });
      mkdirSync(peerDir, { recursive: true });
      writeFileSync(entry, peerSource(fn));
      await bundleFunction({
        functionName: `${fn.name}-peer`,
        entry: relative(REPO_ROOT, entry),
        outdir: join(peerDir, 'out'),
        metafilePath: join(peerDir, 'meta.json'),
        replacements: {},
      });
      const env = environmentOf(fn, publicJwk);
      const ours: number[] = [];
      const peer: number[] = [];
      initMs(join(fn.assetDir, 'index.mjs'), env, fn.assetDir); // page cache warm-up, as on a warm host
      initMs(join(peerDir, 'out', 'index.mjs'), env, peerDir);
      for (let i = 0; i < RUNS; i++) {
        ours.push(initMs(join(fn.assetDir, 'index.mjs'), env, fn.assetDir));
        peer.push(initMs(join(peerDir, 'out', 'index.mjs'), env, join(peerDir, 'out')));
      }
      const [o, p] = [median(ours), median(peer)];
      ratios.push(o / p);
      console.log(
        `| ${fn.name} | ${kib(shares.total)} | ${kib(shares.rest)} | ${kib(shares.tracing)} | ${o.toFixed(0)} ms | ${p.toFixed(0)} ms | ${(o / p).toFixed(2)}× |`,
      );
      recordFigure({
        figure: `cold init ${fn.name}`,
        value: o,
        unit: 'ms',
        peer: { label: 'same SDK clients only', value: p },
        better: 'lower',
        target: 'ratio ≤ 1.3',
      });
    }
    recordFigure({
      figure: `largest bundle (${largest.name})`,
      value: largest.bytes / 1024,
      unit: 'KiB',
      peer: { label: 'ceiling', value: BUNDLE_TOTAL_CEILING_BYTES / 1024 },
      better: 'lower',
      target: `≤ ${BUNDLE_BUDGET_BYTES / 1024} KiB besides tracing`,
    });
    console.log(`cold init ratio, median over functions: ${median(ratios).toFixed(2)}×`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    synth.cleanup();
  }
}
