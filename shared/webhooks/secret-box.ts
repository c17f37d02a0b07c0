import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { envName } from '../../infra/wiring-types.ts';
import { secretsProvider } from '../aws/secrets.ts';

/**
 * Application-level encryption of endpoint signing secrets (AES-256-GCM). The table is shared by
 * every function; sealing the `whsec_` secrets with a key only the webhook functions may read keeps
 * them out of reach of the others, of table exports and of backups.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

const PREFIX = 'enc:v1:';

/** A box keyed by SHA-256 of the key material (any string: the secret's value as stored). */
export function secretBox(material: string): SecretBox {
  if (!material) throw new Error('webhook secrets key is empty');
  const key = createHash('sha256').update(`switchboard-webhook-secrets\n${material}`).digest();
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
    },
    open(sealed) {
      if (!sealed.startsWith(PREFIX)) throw new Error('endpoint secret is not sealed');
      const [iv, tag, ct] = sealed.slice(PREFIX.length).split(':');
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
 * The box from the `webhook-secrets-key` secret (env `SECRET_WEBHOOK_SECRETS_KEY_ARN`), read on first
 * use (never at cold start) and cached five minutes by Powertools Parameters. The raw secret string
 * is the key material, so the random value Secrets Manager generates at deploy is enough.
 */
export function secretBoxFromEnv(): () => Promise<SecretBox> {
  let cached: { material: string; box: SecretBox } | undefined;
  return async () => {
    const arn = process.env[envName.secretArn('webhook-secrets-key')];
    if (!arn)
      throw new Error('SECRET_WEBHOOK_SECRETS_KEY_ARN is not set: declare the secret use in infra/wiring');
    const value = await secretsProvider().get(arn, { maxAge: 300 });
    const material = typeof value === 'string' ? value : Buffer.from(value as Uint8Array).toString('base64');
    if (cached?.material !== material) cached = { material, box: secretBox(material) };
    return cached.box;
  };
}
