import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwksVerifier, signAccessToken, TokenInvalidError } from '../../../shared/auth/jwt.ts';
import {
  generateSigningJwk,
  type KeySet,
  publicKeySet,
  rotateKeySet,
  signingSecretSchema,
} from '../../../shared/auth/keyset.ts';

const issuer = 'switchboard';
const audience = 'switchboard-api';

/** A verifier over a JWKS that serves whatever `set` is now, counting fetches, on a clock we move. */
function harness(initial: KeySet) {
  let now = Date.parse('2026-12-05T00:00:00Z');
  const h = {
    set: initial,
    fetches: 0,
    clock: { now: () => new Date(now) },
    advance(seconds: number) {
      now += seconds * 1000;
    },
    verifier: createJwksVerifier({
      jwks: async (): Promise<{ keys: JWK[] }> => {
        h.fetches++;
        return publicKeySet(h.set);
      },
      issuer,
      audience,
      clock: { now: () => new Date(now) },
      cacheSeconds: 300,
      refetchSeconds: 30,
    }),
    sign: (privateJwk: KeySet['current'], ttlSeconds = 900) =>
      signAccessToken(
        { sub: 'arrow-cc', tenant: 'arrow', scopes: ['orders:read'], jti: crypto.randomUUID() },
        { privateJwk, issuer, audience, ttlSeconds, clock: { now: () => new Date(now) } },
      ),
  };
  return h;
}

const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid?: string }).kid;

describe('JWKS rotation of the token signing keys', () => {
  it('publishes previous, current and next (public halves only) and rotates next → current → previous', async () => {
    const first = await rotateKeySet(undefined, new Date());
    expect(first.previous).toBeUndefined();
    expect(publicKeySet(first).keys.map((k) => k.kid)).toEqual([first.current.kid, first.next.kid]);
    const second = await rotateKeySet(first, new Date());
    expect(second.previous?.kid).toBe(first.current.kid);
    expect(second.current.kid).toBe(first.next.kid);
    expect(second.next.kid).not.toBe(first.next.kid);
    const jwks = publicKeySet(second);
    expect(jwks.keys.map((k) => k.kid)).toEqual([first.current.kid, first.next.kid, second.next.kid]);
    for (const key of jwks.keys) {
      expect(key).not.toHaveProperty('d');
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
  });

  it('keeps a token of the old key valid until it expires, new tokens carry the new kid, a removed key is refused', async () => {
    const h = harness(await rotateKeySet(undefined, new Date()));
    const old = h.set.current;
    const oldToken = await h.sign(old, 900);
    expect(kidOf(oldToken)).toBe(old.kid);
    expect((await h.verifier.verify(oldToken)).tenant).toBe('arrow');
    expect(h.fetches).toBe(1);

    // Rotation: the new current was published as `next`, so a verifier that cached the set before the
    // rotation verifies the new tokens without fetching again.
    h.set = await rotateKeySet(h.set, h.clock.now());
    const newToken = await h.sign(h.set.current);
    expect(kidOf(newToken)).toBe(h.set.current.kid);
    expect(kidOf(newToken)).not.toBe(old.kid);
    expect((await h.verifier.verify(newToken)).sub).toBe('arrow-cc');
    expect(h.fetches).toBe(1);

    // The old key is `previous` now: its token still verifies after the cache refreshes...
    h.advance(301);
    expect((await h.verifier.verify(oldToken)).tenant).toBe('arrow');
    expect(h.fetches).toBe(2);
    // ... until the token itself expires.
    h.advance(600);
    await expect(h.verifier.verify(oldToken)).rejects.toMatchObject({ reason: 'expired' });

    // A second rotation removes the old key: even a fresh token signed by it is refused.
    const lateToken = await h.sign(old, 900);
    expect((await h.verifier.verify(lateToken)).tenant).toBe('arrow'); // still published
    h.set = await rotateKeySet(h.set, h.clock.now());
    h.advance(301);
    await expect(h.verifier.verify(lateToken)).rejects.toThrow(/not published/);
    expect((await h.verifier.verify(await h.sign(h.set.current))).tenant).toBe('arrow');
  });

  it('refuses an unknown kid, refetching the set at most once per refetch interval', async () => {
    const h = harness(await rotateKeySet(undefined, new Date()));
    await h.verifier.verify(await h.sign(h.set.current));
    expect(h.fetches).toBe(1);
    const stranger = await generateSigningJwk();
    const forged = await h.sign(stranger);
    h.advance(31);
    for (let i = 0; i < 5; i++) {
      await expect(h.verifier.verify(forged)).rejects.toBeInstanceOf(TokenInvalidError);
    }
    expect(h.fetches).toBe(2); // one refetch for the five attempts
    h.advance(31);
    await expect(h.verifier.verify(forged)).rejects.toThrow(/not published/);
    expect(h.fetches).toBe(3);

    // A key published after the verifier cached the set is found by that refetch.
    const added = await generateSigningJwk();
    h.set = { ...h.set, next: added };
    h.advance(31);
    expect((await h.verifier.verify(await h.sign(added))).tenant).toBe('arrow');
  });

  it('refuses a token without kid, and one whose kid names a published key it was not signed by', async () => {
    const h = harness(await rotateKeySet(undefined, new Date()));
    const { kid: _kid, ...noKid } = h.set.current;
    await expect(h.verifier.verify(await h.sign(noKid as KeySet['current']))).rejects.toThrow(/no key id/);
    const impostor = { ...(await generateSigningJwk()), kid: h.set.current.kid };
    await expect(h.verifier.verify(await h.sign(impostor))).rejects.toMatchObject({ reason: 'invalid' });
  });

  it('keeps using the set it holds when a refresh fails', async () => {
    const h = harness(await rotateKeySet(undefined, new Date()));
    const token = await h.sign(h.set.current);
    await h.verifier.verify(token);
    const failing = createJwksVerifier({
      jwks: async () => {
        h.fetches++;
        if (h.fetches > 2) throw new Error('JWKS unreachable');
        return publicKeySet(h.set);
      },
      issuer,
      audience,
      clock: h.clock,
    });
    await failing.verify(token);
    h.advance(301);
    expect((await failing.verify(token)).tenant).toBe('arrow');
    expect(h.fetches).toBe(3);
  });

  it('reads the legacy {privateJwk} secret as a one-key set, and migrates it to previous on rotation', async () => {
    const legacy = { privateJwk: await generateSigningJwk() };
    const read = signingSecretSchema.parse(legacy);
    expect(publicKeySet(read).keys.map((k) => k.kid)).toEqual([legacy.privateJwk.kid]);
    const rotated = await rotateKeySet(legacy, new Date());
    expect(rotated.previous?.kid).toBe(legacy.privateJwk.kid);
    expect(rotated.current.kid).not.toBe(legacy.privateJwk.kid);
  });
});
