import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsResponse } from './aws-emulator.ts';

/** The ARN the local stage gives its one KMS key (`KMS_WEBHOOK_SECRETS_KEY_ARN`). */
export const LOCAL_KMS_KEY_ARN = 'arn:aws:kms:us-east-1:000000000000:key/local-webhook-secrets';

/**
 * KMS as the functions call it (GenerateDataKey, Encrypt, Decrypt), over one local master key kept in
 * `<data>/kms-master-key` (32 random bytes, mode 0600, created on first start, never committed). A
 * ciphertext blob is AES-256-GCM under the master key with the encryption context (sorted) as AAD,
 * so a Decrypt with another context fails as KMS's InvalidCiphertextException.
 */
export class LocalKms {
  constructor(private readonly master: Buffer) {
    if (master.length !== 32) throw new Error('local KMS master key must be 32 bytes');
  }

  static fromDataDir(dataDir: string): LocalKms {
    const file = join(dataDir, 'kms-master-key');
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, randomBytes(32).toString('base64'), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, file);
    }
    return new LocalKms(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
  }

  encrypt(plain: Buffer, context: Record<string, string> | undefined): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.master, iv);
    cipher.setAAD(aad(context));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), ct]);
  }

  decrypt(blob: Buffer, context: Record<string, string> | undefined): Buffer | undefined {
    if (blob.length < 29 || blob[0] !== 1) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.master, blob.subarray(1, 13));
      decipher.setAAD(aad(context));
      decipher.setAuthTag(blob.subarray(13, 29));
      return Buffer.concat([decipher.update(blob.subarray(29)), decipher.final()]);
    } catch {
      return undefined;
    }
  }

  call(target: string, input: Record<string, unknown>, contentType: string): AwsResponse {
    const context = input.EncryptionContext as Record<string, string> | undefined;
    const reply = (status: number, body: unknown, type?: string): AwsResponse => ({
      status,
      headers: { 'content-type': contentType, ...(type ? { 'x-amzn-errortype': type } : {}) },
      body: JSON.stringify(body),
    });
    const fail = (type: string, message: string) => reply(400, { __type: type, message }, type);
    switch (target) {
      case 'TrentService.GenerateDataKey': {
        if (input.KeySpec !== 'AES_256' && input.NumberOfBytes !== 32) {
          return fail('ValidationException', 'the local KMS generates AES_256 data keys only');
        }
        const plain = randomBytes(32);
        return reply(200, {
          KeyId: LOCAL_KMS_KEY_ARN,
          Plaintext: plain.toString('base64'),
          CiphertextBlob: this.encrypt(plain, context).toString('base64'),
        });
      }
      case 'TrentService.Encrypt':
        return reply(200, {
          KeyId: LOCAL_KMS_KEY_ARN,
          CiphertextBlob: this.encrypt(
            Buffer.from(String(input.Plaintext ?? ''), 'base64'),
            context,
          ).toString('base64'),
        });
      case 'TrentService.Decrypt': {
        const plain = this.decrypt(Buffer.from(String(input.CiphertextBlob ?? ''), 'base64'), context);
        if (!plain)
          return fail('InvalidCiphertextException', 'The ciphertext or its encryption context is invalid');
        return reply(200, { KeyId: LOCAL_KMS_KEY_ARN, Plaintext: plain.toString('base64') });
      }
      default:
        return fail('UnknownOperationException', `the local runtime does not emulate ${target}`);
    }
  }
}

/** The encryption context as AAD: its pairs sorted by key, so member order does not matter (as in KMS). */
function aad(context: Record<string, string> | undefined): Buffer {
  return Buffer.from(JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/**
 * The local KMS as a KMS client without HTTP (unit tests of code that takes a `KmsSend`):
 * GenerateDataKey, Encrypt and Decrypt commands, with KMS's errors (`name` = the AWS error type).
 */
export function inProcessKms(local: LocalKms): { send(command: unknown): Promise<Record<string, unknown>> } {
  return {
    async send(command: unknown) {
      const { input } = command as { input: Record<string, unknown> };
      const operation = (command as object).constructor.name.replace(/Command$/, '');
      const wire: Record<string, unknown> = { ...input };
      for (const field of ['CiphertextBlob', 'Plaintext'])
        if (input[field] instanceof Uint8Array)
          wire[field] = Buffer.from(input[field] as Uint8Array).toString('base64');
      const r = local.call(`TrentService.${operation}`, wire, 'application/x-amz-json-1.1');
      const body = JSON.parse(r.body) as Record<string, unknown>;
      if (r.status !== 200)
        throw Object.assign(new Error(String(body.message)), { name: String(body.__type) });
      for (const field of ['CiphertextBlob', 'Plaintext'])
        if (typeof body[field] === 'string')
          body[field] = new Uint8Array(Buffer.from(body[field] as string, 'base64'));
      return body;
    },
  };
}
