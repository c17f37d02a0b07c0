import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalSigningKeys, saveLocalSigningKeys } from '../../../local/signing-key.ts';
import { createVerifier, signAccessToken } from '../../../shared/auth/jwt.ts';
import { generateSigningJwk, publicKeySet, rotateKeySet } from '../../../shared/auth/keyset.ts';

describe('ensureLocalSigningKeys', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'switchboard-key-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('generates a key set once, persists it 0600, and its current key signs tokens the JWKS verifies', async () => {
    const set = await ensureLocalSigningKeys(dataDir);
    expect(statSync(join(dataDir, 'signing-keys.json')).mode & 0o777).toBe(0o600);
    expect(set.current.kid).not.toBe(set.next.kid);
    expect(await ensureLocalSigningKeys(dataDir)).toEqual(set);

    const clock = { now: () => new Date() };
    const token = await signAccessToken(
      { sub: 'c', tenant: 't', scopes: ['orders:read'], jti: 'j' },
      { privateJwk: set.current, issuer: 'switchboard', audience: 'switchboard-api', ttlSeconds: 60, clock },
    );
    const published = publicKeySet(set).keys.find((k) => k.kid === set.current.kid)!;
    expect(published).not.toHaveProperty('d');
    const verifier = createVerifier({
      publicJwk: published,
      issuer: 'switchboard',
      audience: 'switchboard-api',
      clock,
    });
    expect((await verifier.verify(token)).tenant).toBe('t');

    const rotated = await rotateKeySet(set, new Date());
    saveLocalSigningKeys(dataDir, rotated);
    expect(await ensureLocalSigningKeys(dataDir)).toEqual(rotated);
  });

  it('migrates a pre-rotation signing-key.json: its key stays published as previous', async () => {
    const other = mkdtempSync(join(tmpdir(), 'switchboard-key-'));
    try {
      const legacy = await generateSigningJwk();
      writeFileSync(join(other, 'signing-key.json'), JSON.stringify({ privateJwk: legacy, publicJwk: {} }));
      const set = await ensureLocalSigningKeys(other);
      expect(set.previous?.kid).toBe(legacy.kid);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('refuses a file it did not write rather than silently replacing the keys', async () => {
    const other = mkdtempSync(join(tmpdir(), 'switchboard-key-'));
    try {
      writeFileSync(join(other, 'signing-keys.json'), JSON.stringify({ current: { kty: 'RSA' } }));
      await expect(ensureLocalSigningKeys(other)).rejects.toThrow(/not a signing key set/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
