import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KeySet, keySetSchema, legacySecretSchema, rotateKeySet } from '../shared/auth/keyset.ts';

/**
 * The local stage's token signing key set ({previous?, current, next}, ES256 private JWKs), generated
 * on first start and kept in `<dataDir>/signing-keys.json` (mode 0600) so tokens stay valid across
 * restarts. In AWS the same set is the `auth-signing-key` secret; locally the runtime serves it as a
 * versioned secret and writes every rotation back here. A data folder from before rotation
 * (`signing-key.json`, one `{privateJwk}`) is migrated: that key becomes `previous`.
 */
export async function ensureLocalSigningKeys(dataDir: string): Promise<KeySet> {
  const file = join(dataDir, 'signing-keys.json');
  if (existsSync(file)) {
    const parsed = keySetSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) {
      throw new Error(`${file} is not a signing key set this runtime wrote; delete it to generate a new one`);
    }
    return parsed.data;
  }
  const legacyFile = join(dataDir, 'signing-key.json');
  const legacy = existsSync(legacyFile)
    ? legacySecretSchema.safeParse(JSON.parse(readFileSync(legacyFile, 'utf8'))).data
    : undefined;
  const set = await rotateKeySet(legacy, new Date());
  saveLocalSigningKeys(dataDir, set);
  return set;
}

/** Write-then-rename (mode 0600): a crash mid-write never leaves a truncated key set behind. */
export function saveLocalSigningKeys(dataDir: string, set: KeySet): void {
  const file = join(dataDir, 'signing-keys.json');
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(keySetSchema.parse(set), null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
