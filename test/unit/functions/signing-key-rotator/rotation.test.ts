import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIN_ROTATION_INTERVAL_SECONDS,
  type RotationEvent,
  RotationTooSoonError,
  rotationStep,
} from '../../../../functions/signing-key-rotator/rotation.ts';
import { handleAwsRequest } from '../../../../local/aws-emulator.ts';
import { LocalSecretVersions } from '../../../../local/secret-versions.ts';
import { keySetSchema, rotateKeySet } from '../../../../shared/auth/keyset.ts';

const ID = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:auth-signing-key';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

describe('signing-key-rotator against the local Secrets Manager emulation', () => {
  let server: Server;
  let sm: SecretsManagerClient;
  let versions: LocalSecretVersions;
  const saved: string[] = [];
  const calls: string[] = [];

  beforeAll(async () => {
    versions = new LocalSecretVersions((_id, value) => saved.push(value));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        calls.push(String(headers['x-amz-target']).split('.').pop()!);
        const r = await handleAwsRequest(
          {
            putEvents: () => ({ Entries: [] }),
            secret: () => undefined,
            sendMessage: () => undefined,
            mail: undefined as never,
            versions,
          },
          {
            method: req.method ?? 'POST',
            path: req.url ?? '/',
            headers,
            body: Buffer.concat(chunks).toString('utf8'),
          },
        );
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    sm = new SecretsManagerClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    sm.destroy();
    await new Promise((ok) => server.close(ok));
  });

  const current = async () =>
    keySetSchema.parse(
      JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: ID }))).SecretString ?? 'null'),
    );
  const step = (token: string, Step: RotationEvent['Step'], now = new Date()) =>
    rotationStep({ SecretId: ID, ClientRequestToken: token, Step }, { sm, now: () => now });

  it('promotes next → current, current → previous, mints a new next; each step is idempotent', async () => {
    const initial = await rotateKeySet(undefined, new Date());
    versions.init(ID, JSON.stringify(initial));
    const token = versions.startRotation(ID);
    await step(token, 'createSecret');
    const pending = versions.get(ID, token, 'AWSPENDING');
    expect(pending).toBeDefined();
    // A retried createSecret keeps the pending set it made (no second new key).
    await step(token, 'createSecret');
    expect(versions.get(ID, token, 'AWSPENDING')?.value).toBe(pending?.value);
    expect((await current()).current.kid).toBe(initial.current.kid); // nothing promoted yet

    for (const s of STEPS.slice(1)) await step(token, s);
    const after = await current();
    expect(after.previous?.kid).toBe(initial.current.kid);
    expect(after.current.kid).toBe(initial.next.kid);
    expect([initial.current.kid, initial.next.kid]).not.toContain(after.next.kid);
    expect(versions.stages(ID)?.[token]).toEqual(['AWSCURRENT']);
    expect(keySetSchema.parse(JSON.parse(saved.at(-1)!)).current.kid).toBe(initial.next.kid);

    // Secrets Manager retrying finishSecret (or any step) after it succeeded changes nothing.
    for (const s of STEPS) await step(token, s);
    expect((await current()).next.kid).toBe(after.next.kid);
    expect(calls).toContain('UpdateSecretVersionStage');
  });

  it('migrates the random string Secrets Manager generated at creation into a fresh key set', async () => {
    versions.init(ID, 'x'.repeat(32));
    const token = versions.startRotation(ID);
    for (const s of STEPS) await step(token, s);
    const set = await current();
    expect(set.previous).toBeUndefined();
    expect(set.current.kid).not.toBe(set.next.kid);
  });

  it('refuses a token Secrets Manager did not stage for rotation, and a test of a broken pending set', async () => {
    versions.init(ID, JSON.stringify(await rotateKeySet(undefined, new Date())));
    await expect(step('not-a-version', 'createSecret')).rejects.toThrow(/does not exist/);
    const token = versions.startRotation(ID);
    versions.put(ID, token, JSON.stringify({ current: 'nope' }), ['AWSPENDING']);
    await expect(step(token, 'testSecret')).rejects.toThrow();
    const before = (await current()).current.kid;
    // finishSecret is never reached when testSecret fails; the current set is untouched.
    expect((await current()).current.kid).toBe(before);
  });

  it('refuses to drop `previous` before the tokens it signed have expired, and rotates once they have', async () => {
    const rotatedAt = new Date('2026-12-05T00:00:00Z');
    const held = await rotateKeySet(await rotateKeySet(undefined, rotatedAt), rotatedAt);
    versions.init(ID, JSON.stringify(held));
    const token = versions.startRotation(ID);
    const early = new Date(rotatedAt.getTime() + (MIN_ROTATION_INTERVAL_SECONDS - 60) * 1000);
    const refused = step(token, 'createSecret', early);
    await expect(refused).rejects.toBeInstanceOf(RotationTooSoonError);
    await expect(refused).rejects.toThrow(/2026-12-05T01:05:00.000Z/);
    expect(versions.get(ID, token, 'AWSPENDING')).toBeUndefined();
    expect((await current()).previous?.kid).toBe(held.previous?.kid);

    const later = new Date(rotatedAt.getTime() + MIN_ROTATION_INTERVAL_SECONDS * 1000);
    for (const s of STEPS) await step(token, s, later);
    const after = await current();
    expect(after.previous?.kid).toBe(held.current.kid);
    expect(after.rotatedAt).toBe(later.toISOString());
  });
});
