import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleAwsRequest } from '../../../local/aws-emulator.ts';
import { LOCAL_KMS_KEY_ARN, LocalKms } from '../../../local/kms.ts';
import {
  kmsSecretBox,
  legacySecretBox,
  SealedSecretRefusedError,
  type SecretBox,
} from '../../../shared/webhooks/secret-box.ts';

/** The real KMS client against the local emulation (`/_aws`, JSON 1.1), as the functions call it. */
describe('webhook secrets: KMS envelope encryption', () => {
  let server: Server;
  let kms: KMSClient;
  const calls: string[] = [];
  let box: SecretBox;
  const owner = { tenant: 'arrow', endpointId: 'ep_01' };

  beforeAll(async () => {
    const local = new LocalKms(randomBytes(32));
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
            kms: local,
          },
          { method: 'POST', path: '/', headers, body: Buffer.concat(chunks).toString('utf8') },
        );
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    kms = new KMSClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    box = kmsSecretBox({ kms, keyId: LOCAL_KMS_KEY_ARN, cacheMs: 0 });
  });
  afterAll(async () => {
    kms.destroy();
    await new Promise((ok) => server.close(ok));
  });

  it('round-trips a secret sealed with its own data key, never storing the secret or the plain data key', async () => {
    calls.length = 0;
    const plain = `whsec_${randomBytes(24).toString('base64url')}`;
    const a = await box.seal(plain, owner);
    const b = await box.seal(plain, owner);
    expect(a).toMatch(/^kms:v1:/);
    expect(a).not.toContain(plain);
    expect(a.split(':')[2]).not.toBe(b.split(':')[2]); // a data key per secret
    expect(await box.open(a, owner)).toBe(plain);
    expect(calls).toEqual(['GenerateDataKey', 'GenerateDataKey', 'Decrypt']);
  });

  it('refuses a context mismatch: KMS itself refuses to decrypt the data key (InvalidCiphertextException)', async () => {
    const sealed = await box.seal('whsec_abc', owner);
    const blob = Buffer.from(sealed.split(':')[2]!, 'base64url');
    await expect(
      kms.send(
        new DecryptCommand({
          CiphertextBlob: blob,
          EncryptionContext: { tenant: 'arrow', endpointId: 'ep_02' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: owner }));
    expect(ok.Plaintext).toHaveLength(32);
  });

  it('refuses a sealed secret copied to another endpoint or another tenant', async () => {
    const sealed = await box.seal('whsec_abc', owner);
    await expect(box.open(sealed, { tenant: 'arrow', endpointId: 'ep_02' })).rejects.toBeInstanceOf(
      SealedSecretRefusedError,
    );
    await expect(box.open(sealed, { tenant: 'ingram', endpointId: 'ep_01' })).rejects.toBeInstanceOf(
      SealedSecretRefusedError,
    );
    // Even with the data key cached for its owner, the copy is refused.
    const cached = kmsSecretBox({ kms, keyId: LOCAL_KMS_KEY_ARN });
    expect(await cached.open(sealed, owner)).toBe('whsec_abc');
    await expect(cached.open(sealed, { tenant: 'arrow', endpointId: 'ep_02' })).rejects.toBeInstanceOf(
      SealedSecretRefusedError,
    );
  });

  it('refuses a tampered ciphertext and a secret sealed under another master key', async () => {
    const sealed = await box.seal('whsec_abc', owner);
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[5]!, 'base64url');
    ct[0]! ^= 1;
    parts[5] = ct.toString('base64url');
    await expect(box.open(parts.join(':'), owner)).rejects.toBeInstanceOf(SealedSecretRefusedError);
    const elsewhere = new LocalKms(randomBytes(32));
    const { CiphertextBlob } = JSON.parse(
      elsewhere.call('TrentService.GenerateDataKey', { KeySpec: 'AES_256', EncryptionContext: owner }, 'x')
        .body,
    ) as { CiphertextBlob: string };
    const foreign = `kms:v1:${Buffer.from(CiphertextBlob, 'base64').toString('base64url')}:${parts.slice(3).join(':')}`;
    await expect(box.open(foreign, owner)).rejects.toBeInstanceOf(SealedSecretRefusedError);
  });

  it('keeps reading secrets sealed the old way (enc:v1:) with the old key material, and refuses without it', async () => {
    const old = legacySecretBox('old material').seal('whsec_old');
    const migrating = kmsSecretBox({
      kms,
      keyId: LOCAL_KMS_KEY_ARN,
      legacyMaterial: async () => 'old material',
    });
    expect(await migrating.open(old, owner)).toBe('whsec_old');
    await expect(box.open(old, owner)).rejects.toThrow(/old key is not configured/);
    expect(await migrating.seal('whsec_new', owner)).toMatch(/^kms:v1:/);
  });

  it('the local KMS only hands out AES-256 data keys and names what it does not emulate', async () => {
    await expect(
      kms.send(new GenerateDataKeyCommand({ KeyId: LOCAL_KMS_KEY_ARN, KeySpec: 'AES_128' })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
