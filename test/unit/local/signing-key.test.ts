import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalSigningKey } from '../../../local/signing-key.ts';
import { createVerifier, signAccessToken } from '../../../shared/auth/jwt.ts';

describe('ensureLocalSigningKey', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'switchboard-key-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('generates an ES256 key once, persists it 0600, and signs tokens its public half verifies', async () => {
    const key = await ensureLocalSigningKey(dataDir);
    expect(statSync(join(dataDir, 'signing-key.json')).mode & 0o777).toBe(0o600);
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(key.privateJwk.kid).toBe(key.publicJwk.kid);
    expect(await ensureLocalSigningKey(dataDir)).toEqual(key);

    const clock = { now: () => new Date() };
    const token = await signAccessToken(
      { sub: 'c', tenant: 't', scopes: ['orders:read'], jti: 'j' },
      {
        privateJwk: key.privateJwk,
        issuer: 'switchboard',
        audience: 'switchboard-api',
        ttlSeconds: 60,
        clock,
      },
    );
    const verifier = createVerifier({
      publicJwk: key.publicJwk,
      issuer: 'switchboard',
      audience: 'switchboard-api',
      clock,
    });
    expect((await verifier.verify(token)).tenant).toBe('t');
  });

  it('refuses a file it did not write rather than silently replacing the key', async () => {
    const other = mkdtempSync(join(tmpdir(), 'switchboard-key-'));
    try {
      writeFileSync(join(other, 'signing-key.json'), JSON.stringify({ privateJwk: { kty: 'RSA' } }));
      await expect(ensureLocalSigningKey(other)).rejects.toThrow(/not a signing key/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
