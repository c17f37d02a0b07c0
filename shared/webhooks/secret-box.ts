import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { envName } from '../../infra/wiring-types.ts';
import { secretsProvider } from '../aws/secrets.ts';
import { awsClient } from '../telemetry.ts';

/**
 * Application-level encryption of endpoint signing secrets. The table is shared by every function;
 * sealing the `whsec_` secrets keeps them out of reach of the others, of table exports and backups.
 *
 * KMS envelope encryption (`kms:v1:`): every secret gets its own AES-256 data key from
 * GenerateDataKey with the encryption context {tenant, endpointId}; the stored value is the
 * encrypted data key plus the AES-256-GCM ciphertext, whose AAD is the same tenant and endpoint id.
 * Opening asks KMS to Decrypt the data key with the context of the endpoint being read, so a sealed
 * secret copied to another endpoint or tenant is refused (by KMS, and by GCM). Rotating the KMS key
 * needs no re-sealing: KMS keeps every version of its key material.
 *
 * Secrets sealed before (`enc:v1:`, AES-GCM under the `webhook-secrets-key` secret) are still read —
 * the migration path; they are never written again and leave the table as endpoints rotate secrets.
 */
export interface SecretBox {
  seal(plain: string, owner: SecretOwner): Promise<string>;
  open(sealed: string, owner: SecretOwner): Promise<string>;
}

/** Whose secret it is: bound into the KMS encryption context and the GCM AAD. */
export interface SecretOwner {
  tenant: string;
  endpointId: string;
}

/** The KMS calls the box makes (a KMSClient, or a stand-in in tests). */
export type KmsSend = Pick<KMSClient, 'send'>;

const KMS_PREFIX = 'kms:v1:';
const LEGACY_PREFIX = 'enc:v1:';

/** KMS refused the data key (wrong context, tampered blob): the secret is not this endpoint's. */
export class SealedSecretRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedSecretRefusedError';
  }
}

const context = (o: SecretOwner) => ({ tenant: o.tenant, endpointId: o.endpointId });
const aad = (o: SecretOwner) =>
  Buffer.from(`switchboard-webhook-secret\n${o.tenant}\n${o.endpointId}`, 'utf8');

export interface KmsSecretBoxOptions {
  kms: KmsSend;
  /** ARN of the KMS key (GenerateDataKey); Decrypt finds the key from the blob. */
  keyId: string | undefined;
  /** Key material of the pre-KMS box, read only when an `enc:v1:` secret is opened. */
  legacyMaterial?: () => Promise<string | undefined>;
  /** Decrypted data keys are kept this long (fewer KMS calls per delivery); 0 disables. */
  cacheMs?: number;
  now?: () => number;
}

export function kmsSecretBox(options: KmsSecretBoxOptions): SecretBox {
  const cacheMs = options.cacheMs ?? 300_000;
  const now = options.now ?? Date.now;
  // Keyed by blob AND owner: a cached key is only reused for the context KMS accepted it with.
  const dataKeys = new Map<string, { key: Buffer; at: number }>();
  let legacy: { material: string; box: LegacyBox } | undefined;

  const dataKeyFor = async (blob: string, owner: SecretOwner): Promise<Buffer> => {
    const cacheKey = `${blob}\n${owner.tenant}\n${owner.endpointId}`;
    const hit = dataKeys.get(cacheKey);
    if (hit && now() - hit.at < cacheMs) return hit.key;
    let out: { Plaintext?: Uint8Array };
    try {
      out = await options.kms.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(blob, 'base64url'),
          EncryptionContext: context(owner),
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'InvalidCiphertextException') {
        throw new SealedSecretRefusedError('endpoint secret is not sealed for this endpoint');
      }
      throw error;
    }
    if (!out.Plaintext) throw new Error('KMS returned no data key');
    const key = Buffer.from(out.Plaintext);
    if (cacheMs > 0) {
      if (dataKeys.size >= 1000) dataKeys.delete(dataKeys.keys().next().value as string);
      dataKeys.set(cacheKey, { key, at: now() });
    }
    return key;
  };

  return {
    async seal(plain, owner) {
      if (!options.keyId)
        throw new Error(
          `${envName.kmsKeyArn('webhook-secrets')} is not set: declare the kmsKey use in infra/wiring`,
        );
      const out = await options.kms.send(
        new GenerateDataKeyCommand({
          KeyId: options.keyId,
          KeySpec: 'AES_256',
          EncryptionContext: context(owner),
        }),
      );
      if (!out.Plaintext || !out.CiphertextBlob) throw new Error('KMS returned no data key');
      const key = Buffer.from(out.Plaintext);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(owner));
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      key.fill(0);
      const parts = [Buffer.from(out.CiphertextBlob), iv, cipher.getAuthTag(), ct].map((b) =>
        b.toString('base64url'),
      );
      return `${KMS_PREFIX}${parts.join(':')}`;
    },
    async open(sealed, owner) {
      if (sealed.startsWith(LEGACY_PREFIX)) {
        const material = await options.legacyMaterial?.();
        if (!material)
          throw new Error('endpoint secret is sealed the old way and the old key is not configured');
        if (legacy?.material !== material) legacy = { material, box: legacySecretBox(material) };
        return legacy.box.open(sealed);
      }
      if (!sealed.startsWith(KMS_PREFIX)) throw new Error('endpoint secret is not sealed');
      const [blob, iv, tag, ct] = sealed.slice(KMS_PREFIX.length).split(':');
      if (!blob || !iv || !tag || ct === undefined) throw new Error('endpoint secret is malformed');
      const key = await dataKeyFor(blob, owner);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(aad(owner));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new SealedSecretRefusedError('endpoint secret is not sealed for this endpoint');
      }
    },
  };
}

/** The pre-KMS box (AES-256-GCM under SHA-256 of the secret's material): opens `enc:v1:` values. */
export interface LegacyBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function legacySecretBox(material: string): LegacyBox {
  if (!material) throw new Error('webhook secrets key is empty');
  const key = createHash('sha256').update(`switchboard-webhook-secrets\n${material}`).digest();
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${LEGACY_PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
    },
    open(sealed) {
      if (!sealed.startsWith(LEGACY_PREFIX)) throw new Error('endpoint secret is not sealed');
      const [iv, tag, ct] = sealed.slice(LEGACY_PREFIX.length).split(':');
      if (!iv || !tag || ct === undefined) throw new Error('endpoint secret is malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

/**
 * The box of a deployed function: KMS key from `KMS_WEBHOOK_SECRETS_KEY_ARN`, legacy material from
 * the `webhook-secrets-key` secret (`SECRET_WEBHOOK_SECRETS_KEY_ARN`, read only for an `enc:v1:`
 * value, cached five minutes by Powertools Parameters). Nothing is read at cold start.
 */
export function secretBoxFromEnv(): SecretBox {
  let kms: KMSClient | undefined;
  const client = () => {
    kms ??= awsClient(KMSClient, {});
    return kms;
  };
  return kmsSecretBox({
    kms: { send: ((command: never) => client().send(command)) as KMSClient['send'] },
    keyId: process.env[envName.kmsKeyArn('webhook-secrets')],
    legacyMaterial: async () => {
      const arn = process.env[envName.secretArn('webhook-secrets-key')];
      if (!arn) return undefined;
      const value = await secretsProvider().get(arn, { maxAge: 300 });
      return typeof value === 'string' ? value : Buffer.from(value as Uint8Array).toString('base64');
    },
  });
}
