import * as z from 'zod';

/**
 * Parses `process.env` against a schema once, at cold start. A missing or malformed variable fails
 * loudly with every problem listed, rather than surfacing later as an obscure runtime error.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)
      .join('; ');
    throw new Error(`Invalid environment configuration: ${problems}`);
  }
  return result.data;
}

export const stageSchema = z.enum(['local', 'dev', 'staging', 'prod']);
export type Stage = z.infer<typeof stageSchema>;

/**
 * Variables every function has (set by the CDK construct and by the local runtime). STAGE has no
 * default on purpose: `local` relaxes guards (webhook URLs may be http to loopback), so a missing
 * variable must fail at cold start rather than open them.
 */
export const baseEnvSchema = z.object({
  STAGE: stageSchema,
  SERVICE_NAME: z.string().default('switchboard'),
});

export const tableEnvSchema = z.object({ TABLE_NAME: z.string().min(1) });
export const busEnvSchema = z.object({ EVENT_BUS_NAME: z.string().min(1) });
export const authEnvSchema = z.object({
  /** URL of the published key set (`GET /.well-known/jwks.json`): verifiers pick keys by `kid`. */
  AUTH_JWKS_URL: z.url().optional(),
  /** One fixed public JWK (JSON) instead of the key set (tests, single-key setups). */
  AUTH_PUBLIC_JWK: z.string().min(1).optional(),
  AUTH_ISSUER: z.string().default('switchboard'),
  AUTH_AUDIENCE: z.string().default('switchboard-api'),
});
