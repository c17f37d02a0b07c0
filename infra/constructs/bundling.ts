import { fileURLToPath } from 'node:url';
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/** Absolute path of a file of the repository (infra/constructs → repo root). */
export const repoPath = (relative: string): string =>
  fileURLToPath(new URL(`../../${relative}`, import.meta.url));

/**
 * esbuild settings shared by every function: ESM (the code is ESM, top-level await works), a
 * `require` shim for the CommonJS dependencies esbuild inlines, minified, with source maps.
 * Bundling uses the local esbuild — never Docker.
 */
export const esmBundling: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  forceDockerBundling: false,
  // Bundle the SDK: the version tested locally is the one deployed, and ESM imports of the
  // runtime-provided SDK are not resolvable from /var/task.
  bundleAwsSDK: true,
};
