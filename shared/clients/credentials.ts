import * as z from 'zod';
import { envName, type SecretName } from '../../infra/wiring-types.ts';
import { secretsProvider } from '../aws/secrets.ts';

/**
 * Reads a JSON secret named in the manifest (env `SECRET_<NAME>_ARN`) through Powertools
 * Parameters, cached for five minutes per execution environment. Locally the runtime serves the
 * same Secrets Manager API, so this code is identical in every stage.
 */
export async function readSecretJson<S extends z.ZodType>(name: SecretName, schema: S): Promise<z.infer<S>> {
  const arn = process.env[envName.secretArn(name)];
  if (!arn) throw new Error(`${envName.secretArn(name)} is not set: declare the secret use in infra/wiring`);
  const value = await secretsProvider().get(arn, { transform: 'json', maxAge: 300 });
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`secret ${name} does not have the expected shape`);
  return parsed.data;
}

/** Client-credentials secrets of partners (Zuora, Salesforce, SaaShop, screening). */
export const clientCredentialsSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});
export type ClientCredentials = z.infer<typeof clientCredentialsSchema>;
