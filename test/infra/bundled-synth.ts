import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { Metafile } from 'esbuild';
import { buildApp } from '../../infra/app.ts';
import { BUNDLE_META_DIR } from '../../infra/constructs/bundling.ts';
import { FUNCTION_TAG } from '../../infra/constructs/service-function.ts';
import { wiring } from '../../infra/wiring.ts';

/** One deployed function as `cdk synth` packages it. */
export interface BundledFunction {
  name: string;
  /** The Lambda asset directory (what is zipped and uploaded). */
  assetDir: string;
  /** Every file of the asset, relative to `assetDir`. */
  files: string[];
  /** esbuild's metafile of the bundle (written beside the assets, not in them). */
  metafile: Metafile;
  /** Minified size of `index.mjs`, from the metafile. */
  bytes: number;
  /** The function's environment in the template (intrinsics left as objects). */
  environment: Record<string, unknown>;
  handler: string;
}

export interface BundledSynth {
  outdir: string;
  functions: BundledFunction[];
  /** Every asset directory of the cloud assembly (ours and CDK's own handlers). */
  /** Every asset built from this repository (function directories, the console's zip). */
  assetDirs: string[];
  cleanup(): void;
}

type Resource = { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, any> };

/**
 * Synthesizes the real app for `stage` WITH bundling (as `cdk synth` does, cdk-nag off) into a
 * temporary cloud assembly, and maps every Lambda function of the stateless stack to its asset
 * directory (the `aws:asset:path` metadata) and its esbuild metafile.
 */
export function synthWithBundles(stage = 'dev'): BundledSynth {
  const outdir = mkdtempSync(join(tmpdir(), 'sb-bundles-'));
  const app = new App({
    outdir,
    context: { stage, 'aws:cdk:enable-asset-metadata': true },
  });
  const { stateless } = buildApp(app, wiring, { nag: false });
  const assembly = app.synth();
  const template = assembly.getStackByName(stateless.stackName).template as {
    Resources: Record<string, Resource>;
  };
  const functions: BundledFunction[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const assetPath = resource.Metadata?.['aws:asset:path'] as string | undefined;
    const tags = (resource.Properties?.Tags ?? []) as Array<{ Key: string; Value: string }>;
    const name =
      tags.find((t) => t.Key === FUNCTION_TAG)?.Value ??
      (String(resource.Properties?.Description ?? '').includes('signing key')
        ? 'signing-key-rotator'
        : undefined);
    if (!assetPath || !name) continue; // CDK's own provider functions
    const metaPath = join(outdir, BUNDLE_META_DIR, `${name}.meta.json`);
    if (!existsSync(metaPath)) throw new Error(`no metafile for ${name}`);
    const metafile = JSON.parse(readFileSync(metaPath, 'utf8')) as Metafile;
    const output = Object.entries(metafile.outputs).find(([file]) => file.endsWith('index.mjs'));
    const assetDir = join(outdir, assetPath);
    functions.push({
      name,
      assetDir,
      files: readdirSync(assetDir, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => join(d.parentPath, d.name).slice(assetDir.length + 1)),
      metafile,
      bytes: output?.[1].bytes ?? Number.NaN,
      environment: (resource.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>,
      handler: String(resource.Properties?.Handler),
    });
  }
  // The AWS CLI layer CDK's BucketDeployment brings is AWS's own published artefact (it contains the
  // python `rsa` package, whose source names PEM key markers): not built from this repository.
  const vendored = new Set(
    Object.values(template.Resources)
      .filter(
        (r) =>
          r.Type === 'AWS::Lambda::LayerVersion' &&
          String(r.Properties?.Description).startsWith('/opt/awscli'),
      )
      .map((r) => String(r.Metadata?.['aws:asset:path'])),
  );
  const assetDirs = readdirSync(outdir)
    .filter((d) => d.startsWith('asset.') && !vendored.has(d))
    .map((d) => join(outdir, d));
  return {
    outdir,
    functions: functions.sort((a, b) => a.name.localeCompare(b.name)),
    assetDirs,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}
