import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleAwsRequest } from '../../../local/aws-emulator.ts';
import { LocalSecretVersions } from '../../../local/secret-versions.ts';
import { clearSecretsCache, secretsProvider } from '../../../shared/aws/secrets.ts';

const ID = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:cache-test';

describe('clearSecretsCache', () => {
  let server: Server;
  const versions = new LocalSecretVersions();
  let reads = 0;
  const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        reads++;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        const r = await handleAwsRequest(
          {
            putEvents: () => ({ Entries: [] }),
            secret: () => undefined,
            sendMessage: () => undefined,
            mail: undefined as never,
            versions,
          },
          { method: 'POST', path: '/', headers, body: Buffer.concat(chunks).toString('utf8') },
        );
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    });
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    await new Promise((ok) => server.close(ok));
  });

  it('makes the next read see a rotated value the provider had cached', async () => {
    versions.init(ID, 'one');
    expect(await secretsProvider().get(ID, { maxAge: 300 })).toBe('one');
    versions.put(ID, 'v2', 'two', ['AWSCURRENT']);
    expect(await secretsProvider().get(ID, { maxAge: 300 })).toBe('one'); // cached
    expect(reads).toBe(1);
    clearSecretsCache();
    expect(await secretsProvider().get(ID, { maxAge: 300 })).toBe('two');
    expect(reads).toBe(2);
  });
});
