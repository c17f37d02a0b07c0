import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import * as z from 'zod';

export interface LocalSigningKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

const jwkSchema = z.looseObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().min(1),
  y: z.string().min(1),
  kid: z.string().min(1),
});
const fileSchema = z.object({
  privateJwk: jwkSchema.extend({ d: z.string().min(1) }),
  publicJwk: jwkSchema,
});

/**
 * The local stage's token signing key (ES256), generated on first start and kept in
 * `<dataDir>/signing-key.json` (mode 0600) so tokens stay valid across restarts. In AWS the same
 * `{privateJwk}` lives in the `auth-signing-key` secret; locally the runtime serves it from here.
 */
export async function ensureLocalSigningKey(dataDir: string): Promise<LocalSigningKey> {
  const file = join(dataDir, 'signing-key.json');
  if (existsSync(file)) {
    const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) {
      throw new Error(`${file} is not a signing key this runtime wrote; delete it to generate a new one`);
    }
    return parsed.data as LocalSigningKey;
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicBase = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicBase);
  const key: LocalSigningKey = {
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256', use: 'sig' },
    publicJwk: { ...publicBase, kid, alg: 'ES256', use: 'sig' },
  };
  mkdirSync(dataDir, { recursive: true });
  // Write-then-rename: a crash mid-write never leaves a truncated key behind.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(key, null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return key;
}
