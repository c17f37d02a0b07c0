import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, type ILocalBundling, Stage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { buildTimeModules } from '../bundle/build-time-modules.ts';
import type { BundleJob } from '../bundle/esbuild.ts';
import type { Wiring } from '../wiring-types.ts';

/** Absolute path of a file of the repository (infra/constructs → repo root). */
export const repoPath = (relative: string): string =>
  fileURLToPath(new URL(`../../${relative}`, import.meta.url));

/** Folder of the cloud assembly where each bundle's esbuild metafile is written (not deployed). */
export const BUNDLE_META_DIR = 'switchboard-bundles';

/**
 * CDK local bundling of one function with the project's own esbuild settings
 * (`infra/bundle/esbuild.ts`): runs `infra/bundle/cli.ts` in a child process and waits for it (the
 * hook is synchronous, the esbuild plugin API is not). Never Docker: a failed build fails the synth.
 * Its data fields are part of CDK's asset cache key, so two functions never share an asset.
 */
class EsbuildBundling implements ILocalBundling {
  constructor(
    readonly functionName: string,
    readonly entry: string,
    readonly metaDir: string,
    /** A function, so CDK's cache key (a JSON of this object) skips it and nothing runs unless bundling does. */
    private readonly replacements: () => Record<string, string>,
  ) {}

  tryBundle(outputDir: string): boolean {
    const job: BundleJob = {
      functionName: this.functionName,
      entry: this.entry,
      outdir: outputDir,
      metafilePath: join(this.metaDir, `${this.functionName}.meta.json`),
      replacements: this.replacements(),
    };
    const jobFile = join(tmpdir(), `switchboard-bundle-${randomUUID()}.json`);
    writeFileSync(jobFile, JSON.stringify(job));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', repoPath('infra/bundle/cli.ts'), jobFile], {
        cwd: repoPath('.'),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (run.status !== 0) {
        throw new Error(run.stderr.trim() || `bundling ${this.functionName} exited with ${run.status}`);
      }
    } finally {
      rmSync(jobFile, { force: true });
    }
    return true;
  }
}

export interface FunctionCodeProps {
  /** Manifest name of the function (labels the metafile and errors). */
  functionName: string;
  /** Handler module, repository-relative; the bundle's handler is `index.handler`. */
  entry: string;
  /** The manifest the build-time modules (route table, OpenAPI document) are generated from. */
  wiring: Wiring;
}

/**
 * The code asset of one function: its bundle (`index.mjs`, `index.mjs.map`, legal notices), hashed
 * by content. The esbuild metafile goes to `<cdk.out>/switchboard-bundles/<name>.meta.json`.
 */
export function functionCode(scope: Construct, props: FunctionCodeProps): Code {
  const outdir = Stage.of(scope)?.outdir ?? repoPath('cdk.out');
  return Code.fromAsset(repoPath('.'), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type, never used: local bundling either succeeds or fails the synth.
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      local: new EsbuildBundling(props.functionName, props.entry, join(outdir, BUNDLE_META_DIR), () =>
        buildTimeModules(props.wiring, props.functionName),
      ),
    },
  });
}
