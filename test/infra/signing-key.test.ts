import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type SecretStore, signingKeyLifecycle } from '../../functions/signing-key-provider/signing-key.ts';
import { signingKeySecretSchema } from '../../functions/token/schema.ts';
import { createVerifier, signAccessToken } from '../../shared/auth/jwt.ts';
import { systemClock } from '../../shared/clock.ts';
import { testContext } from '../helpers/auth.ts';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth-signing-key-AbCdEf';

function memoryStore(initial?: string): SecretStore & { value: string | undefined; writes: number } {
  const store = {
    value: initial,
    writes: 0,
    async read() {
      return store.value;
    },
    async write(_id: string, value: string) {
      store.value = value;
      store.writes += 1;
    },
  };
  return store;
}

const base = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
  ResponseURL: 'https://example.invalid/response',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
  RequestId: 'r1',
  LogicalResourceId: 'SigningKey',
  ResourceType: 'Custom::SigningKey',
};
const create = (version = '1'): CloudFormationCustomResourceEvent => ({
  ...base,
  RequestType: 'Create',
  ResourceProperties: { ServiceToken: base.ServiceToken, SecretArn: SECRET, KeyVersion: version },
});
const update = (from: string, to: string, physicalId: string): CloudFormationCustomResourceEvent => ({
  ...base,
  RequestType: 'Update',
  PhysicalResourceId: physicalId,
  ResourceProperties: { ServiceToken: base.ServiceToken, SecretArn: SECRET, KeyVersion: to },
  OldResourceProperties: { ServiceToken: base.ServiceToken, SecretArn: SECRET, KeyVersion: from },
});

describe('signing-key custom resource', () => {
  it('on Create stores {privateJwk} (ES256, as the token function reads it) and returns the public half, which verifies its tokens', async () => {
    const store = memoryStore();
    const out = await signingKeyLifecycle(create(), { store });
    const stored = JSON.parse(store.value!);
    expect(signingKeySecretSchema.safeParse(stored).success).toBe(true);
    const privateJwk = stored.privateJwk;
    const publicJwk = JSON.parse(out.Data!.PublicJwk);
    expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(typeof privateJwk.d).toBe('string');
    expect(publicJwk.d).toBeUndefined();
    expect(publicJwk.kid).toBe(privateJwk.kid);
    expect(out.Data!.Kid).toBe(privateJwk.kid);
    expect(out.PhysicalResourceId).toBe(`${SECRET}#v1`);

    const options = { issuer: 'switchboard', audience: 'switchboard-api', clock: systemClock };
    const token = await signAccessToken(
      { sub: 'c1', tenant: 't1', scopes: ['orders:write'], jti: 'j1' },
      { ...options, privateJwk, ttlSeconds: 60 },
    );
    const claims = await createVerifier({ ...options, publicJwk }).verify(token);
    expect(claims).toMatchObject({ sub: 'c1', tenant: 't1', scopes: ['orders:write'] });
  });

  it('on Update with the same keyVersion keeps the key (no write) and still returns the public JWK', async () => {
    const store = memoryStore();
    const first = await signingKeyLifecycle(create(), { store });
    const again = await signingKeyLifecycle(update('1', '1', first.PhysicalResourceId), { store });
    expect(store.writes).toBe(1);
    expect(again).toEqual(first);
  });

  it('on Update with a new keyVersion rotates the key under a new physical id', async () => {
    const store = memoryStore();
    const first = await signingKeyLifecycle(create(), { store });
    const rotated = await signingKeyLifecycle(update('1', '2', first.PhysicalResourceId), { store });
    expect(store.writes).toBe(2);
    expect(rotated.PhysicalResourceId).toBe(`${SECRET}#v2`);
    expect(JSON.parse(rotated.Data!.PublicJwk).x).not.toBe(JSON.parse(first.Data!.PublicJwk).x);
  });

  it('repairs a secret that no longer holds a private JWK', async () => {
    const store = memoryStore('not json at all');
    const out = await signingKeyLifecycle(update('1', '1', `${SECRET}#v1`), { store });
    expect(store.writes).toBe(1);
    expect(JSON.parse(out.Data!.PublicJwk).crv).toBe('P-256');
  });

  it('on Delete leaves the secret alone (it belongs to the stateful stack)', async () => {
    const store = memoryStore('{"kty":"EC"}');
    const out = await signingKeyLifecycle(
      {
        ...base,
        RequestType: 'Delete',
        PhysicalResourceId: `${SECRET}#v1`,
        ResourceProperties: { ServiceToken: base.ServiceToken, SecretArn: SECRET, KeyVersion: '1' },
      },
      { store },
    );
    expect(out).toEqual({ PhysicalResourceId: `${SECRET}#v1` });
    expect(store.writes).toBe(0);
  });

  it('rejects a request without the secret ARN', async () => {
    const store = memoryStore();
    const event = create();
    (event.ResourceProperties as Record<string, unknown>).SecretArn = undefined;
    await expect(signingKeyLifecycle(event, { store })).rejects.toThrow(/SecretArn/);
    expect(store.writes).toBe(0);
  });
});

describe('signing-key provider handler (real AWS SDK against a loopback Secrets Manager)', () => {
  it('writes the key through PutSecretValue and reads it back on a no-op Update', async () => {
    const secrets = new Map<string, string>();
    const calls: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const input = JSON.parse(body || '{}') as { SecretId: string; SecretString?: string };
        calls.push(target.split('.').pop()!);
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (target.endsWith('PutSecretValue')) {
          secrets.set(input.SecretId, input.SecretString!);
          res.end(JSON.stringify({ ARN: input.SecretId, VersionId: 'v1' }));
        } else if (target.endsWith('GetSecretValue') && secrets.has(input.SecretId)) {
          res.end(JSON.stringify({ ARN: input.SecretId, SecretString: secrets.get(input.SecretId) }));
        } else {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'no such secret' }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    try {
      const { port } = server.address() as AddressInfo;
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      });
      const { handler } = await import('../../functions/signing-key-provider/handler.ts');
      const created = await handler(create(), testContext('signing-key-provider'));
      expect(calls).toEqual(['PutSecretValue']);
      expect(JSON.parse(secrets.get(SECRET)!).privateJwk.d).toBeTypeOf('string');
      const updated = await handler(
        update('1', '1', created.PhysicalResourceId),
        testContext('signing-key-provider'),
      );
      expect(calls).toEqual(['PutSecretValue', 'GetSecretValue']);
      expect(updated.Data).toEqual(created.Data);
    } finally {
      process.env = saved;
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
