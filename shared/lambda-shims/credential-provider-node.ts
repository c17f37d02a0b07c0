import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stand-in for `@aws-sdk/credential-provider-node` inside Lambda bundles (an esbuild alias, see
 * `infra/bundle/esbuild.ts`). Lambda hands every function its role's credentials in
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, so the rest of the default
 * chain (SSO, shared ini files, credential processes, web identity, container and instance metadata,
 * with the STS and SSO clients they embed: ~100 KB minified) is dead code there. The local runtime,
 * the CLIs and the tests run from source and keep the full chain.
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
