import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientRepository, clientKey, registerClient } from '../../../../shared/auth/clients.ts';
import { createVerifier, TokenInvalidError } from '../../../../shared/auth/jwt.ts';
import { apiEvent, type TestKeys, testContext, testKeys } from '../../../helpers/auth.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';

const FORM = 'application/x-www-form-urlencoded';
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

describe('POST /oauth/token and GET /.well-known/jwks.json', () => {
  let table: TestTable;
  let keys: TestKeys;
  let secrets: Server;
  let secretReads = 0;
  let invoke: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  const cc = { id: 'arrow-cc', secret: '' };
  const pw = { id: 'zuora-pw', secret: '', username: 'emitter', password: '' };

  beforeAll(async () => {
    table = await startTestTable();
    table.applyEnv();
    keys = await testKeys();
    // A loopback Secrets Manager (JSON 1.1 GetSecretValue) serving the signing key, so the handler
    // reads it exactly as in AWS: SECRET_AUTH_SIGNING_KEY_ARN + the SDK's endpoint configuration.
    secrets = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        secretReads++;
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            ARN: SecretId,
            Name: 'auth-signing-key',
            VersionId: 'v1',
            SecretString: JSON.stringify({ privateJwk: keys.privateJwk }),
          }),
        );
      });
    });
    await new Promise<void>((ok) => secrets.listen(0, '127.0.0.1', ok));
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;
    process.env.SECRET_AUTH_SIGNING_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:auth';
    process.env.TOKEN_TTL_SECONDS = '600';
    process.env.CONSOLE_ORIGINS = 'https://console.example';

    const repo = new ClientRepository(table.doc, table.tableName);
    const now = new Date();
    const a = await registerClient(
      {
        tenant: 'arrow',
        clientId: cc.id,
        scopes: ['orders:write', 'orders:read', 'webhooks:manage'],
        grantTypes: ['client_credentials'],
      },
      { clients: repo, now },
    );
    cc.secret = a.clientSecret;
    const z = await registerClient(
      {
        tenant: 'zuora',
        clientId: pw.id,
        scopes: ['zuora:events'],
        grantTypes: ['password'],
        username: pw.username,
      },
      { clients: repo, now },
    );
    pw.secret = z.clientSecret;
    pw.password = z.password!;

    const { handler } = await import('../../../../functions/token/handler.ts');
    invoke = (event) =>
      handler(
        event,
        testContext('token') as unknown as Context,
      ) as Promise<APIGatewayProxyStructuredResultV2>;
  });

  afterAll(async () => {
    await new Promise<void>((ok) => secrets.close(() => ok()));
    await table.stop();
  });

  async function post(
    body: string | object | undefined,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await invoke(
      apiEvent({
        method: 'POST',
        path: '/oauth/token',
        ...(body !== undefined ? { body } : {}),
        headers: { ...(typeof body === 'string' ? { 'content-type': FORM } : {}), ...headers },
      }),
    );
    return {
      status: res.statusCode ?? 0,
      headers: (res.headers ?? {}) as Record<string, string>,
      body: JSON.parse(res.body ?? '{}') as Record<string, unknown>,
    };
  }
  const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

  function expectOAuthError(res: Answer, status: number, error: string) {
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    expect(typeof res.body.error_description).toBe('string');
    expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
    expect(res.headers['cache-control']).toBe('no-store');
  }

  describe('client_credentials', () => {
    it('issues a token with HTTP Basic and a form body', async () => {
      const res = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic(cc.id, cc.secret),
      });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 600,
        scope: 'orders:write orders:read webhooks:manage',
      });
      const claims = await keys.verifier.verify(res.body.access_token as string);
      expect(claims).toMatchObject({
        sub: cc.id,
        tenant: 'arrow',
        scopes: ['orders:write', 'orders:read', 'webhooks:manage'],
      });
      expect(claims.username).toBeUndefined();
      expect(claims.exp - claims.iat).toBe(600);
      expect(claims.jti).toMatch(/^[0-9A-Z]{26}$/);
      expect(decodeProtectedHeader(res.body.access_token as string)).toMatchObject({
        alg: 'ES256',
        kid: 'test',
      });
    });

    it('issues a token with credentials in a JSON body', async () => {
      const res = await post({
        grant_type: 'client_credentials',
        client_id: cc.id,
        client_secret: cc.secret,
      });
      expect(res.status).toBe(200);
      expect((await keys.verifier.verify(res.body.access_token as string)).tenant).toBe('arrow');
    });

    it('accepts credentials in a form body, and a Basic id repeated in the body', async () => {
      const viaBody = await post(
        form({ grant_type: 'client_credentials', client_id: cc.id, client_secret: cc.secret }),
      );
      expect(viaBody.status).toBe(200);
      const repeated = await post(form({ grant_type: 'client_credentials', client_id: cc.id }), {
        authorization: basic(cc.id, cc.secret),
      });
      expect(repeated.status).toBe(200);
    });

    it('reads a base64-encoded form body, as API Gateway delivers form posts', async () => {
      const event = apiEvent({
        method: 'POST',
        path: '/oauth/token',
        headers: { 'content-type': `${FORM}; charset=UTF-8`, authorization: basic(cc.id, cc.secret) },
        body: Buffer.from(form({ grant_type: 'client_credentials', scope: 'orders:write' })).toString(
          'base64',
        ),
      });
      const res = await invoke({ ...event, isBase64Encoded: true });
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body ?? '{}').scope).toBe('orders:write');
    });

    it('narrows the scope to a requested subset', async () => {
      const res = await post(form({ grant_type: 'client_credentials', scope: 'orders:read  orders:read' }), {
        authorization: basic(cc.id, cc.secret),
      });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('orders:read');
      expect((await keys.verifier.verify(res.body.access_token as string)).scopes).toEqual(['orders:read']);
    });

    it('issues distinct token ids', async () => {
      const a = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic(cc.id, cc.secret),
      });
      const b = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic(cc.id, cc.secret),
      });
      const [ja, jb] = await Promise.all([
        keys.verifier.verify(a.body.access_token as string),
        keys.verifier.verify(b.body.access_token as string),
      ]);
      expect(ja.jti).not.toBe(jb.jti);
    });
  });

  describe('password', () => {
    it('issues a token carrying the username', async () => {
      const res = await post(form({ grant_type: 'password', username: pw.username, password: pw.password }), {
        authorization: basic(pw.id, pw.secret),
      });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('zuora:events');
      const claims = await keys.verifier.verify(res.body.access_token as string);
      expect(claims).toMatchObject({
        sub: pw.id,
        tenant: 'zuora',
        username: pw.username,
        scopes: ['zuora:events'],
      });
    });

    it('works with every parameter in a JSON body', async () => {
      const res = await post({
        grant_type: 'password',
        client_id: pw.id,
        client_secret: pw.secret,
        username: pw.username,
        password: pw.password,
      });
      expect(res.status).toBe(200);
    });

    it('refuses a wrong password or an unknown user with the same invalid_grant', async () => {
      const wrong = await post(
        form({ grant_type: 'password', username: pw.username, password: 'nope-nope-nope' }),
        {
          authorization: basic(pw.id, pw.secret),
        },
      );
      const unknown = await post(
        form({ grant_type: 'password', username: 'someone', password: pw.password }),
        {
          authorization: basic(pw.id, pw.secret),
        },
      );
      expectOAuthError(wrong, 400, 'invalid_grant');
      expect(unknown.body).toEqual(wrong.body);
    });

    it('requires username and password', async () => {
      const res = await post(form({ grant_type: 'password', username: pw.username }), {
        authorization: basic(pw.id, pw.secret),
      });
      expectOAuthError(res, 400, 'invalid_request');
      expect(res.body.error_description).toContain('password');
      const none = await post(form({ grant_type: 'password' }), { authorization: basic(pw.id, pw.secret) });
      expect(none.body.error_description).toContain('username and password');
    });
  });

  describe('RFC 6749 §5.2 errors', () => {
    it('invalid_client: unknown client and wrong secret are indistinguishable; Basic gets a challenge', async () => {
      const wrong = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic(cc.id, 'wrong'),
      });
      const unknown = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic('nobody-here', cc.secret),
      });
      expectOAuthError(wrong, 401, 'invalid_client');
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
      expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
      expect(unknown.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('invalid_client by body credentials: 401 without a Basic challenge', async () => {
      const res = await post(
        form({ grant_type: 'client_credentials', client_id: cc.id, client_secret: 'wrong' }),
      );
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers['www-authenticate']).toBeUndefined();
    });

    it('invalid_client: no credentials at all, a non-Basic scheme, malformed Basic', async () => {
      expectOAuthError(await post(form({ grant_type: 'client_credentials' })), 401, 'invalid_client');
      const bearer = await post(form({ grant_type: 'client_credentials' }), { authorization: 'Bearer abc' });
      expectOAuthError(bearer, 401, 'invalid_client');
      const malformed = await post(form({ grant_type: 'client_credentials' }), {
        authorization: `Basic ${Buffer.from('no-colon').toString('base64')}`,
      });
      expectOAuthError(malformed, 401, 'invalid_client');
      expect(malformed.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('invalid_request: Basic and body credentials at once', async () => {
      const res = await post(
        form({ grant_type: 'client_credentials', client_id: cc.id, client_secret: cc.secret }),
        {
          authorization: basic(cc.id, cc.secret),
        },
      );
      expectOAuthError(res, 400, 'invalid_request');
      const other = await post(form({ grant_type: 'client_credentials', client_id: pw.id }), {
        authorization: basic(cc.id, cc.secret),
      });
      expectOAuthError(other, 400, 'invalid_request');
    });

    it('invalid_request: missing grant_type, repeated parameter, non-string JSON value, JSON array', async () => {
      const missing = await post(form({ client_id: cc.id, client_secret: cc.secret }));
      expectOAuthError(missing, 400, 'invalid_request');
      expect(missing.body.error_description).toContain('grant_type');
      const repeated = await post(`grant_type=client_credentials&grant_type=password`, {
        authorization: basic(cc.id, cc.secret),
      });
      expectOAuthError(repeated, 400, 'invalid_request');
      expect(repeated.body.error_description).toContain('grant_type');
      const typed = await post({ grant_type: 'client_credentials', client_id: 42, client_secret: cc.secret });
      expectOAuthError(typed, 400, 'invalid_request');
      expect(typed.body.error_description).toContain('client_id');
      expectOAuthError(await post('[]', { 'content-type': 'application/json' }), 400, 'invalid_request');
    });

    it('keeps the RFC shape for malformed JSON (400), a wrong content type (415), a huge body (413), no body', async () => {
      const malformed = await post('{"grant_type":', { 'content-type': 'application/json' });
      expectOAuthError(malformed, 400, 'invalid_request');
      const mistyped = await post('grant_type=client_credentials', { 'content-type': 'text/plain' });
      expectOAuthError(mistyped, 415, 'invalid_request');
      const huge = await post(form({ grant_type: 'client_credentials', pad: 'x'.repeat(20_000) }), {
        authorization: basic(cc.id, cc.secret),
      });
      expectOAuthError(huge, 413, 'invalid_request');
      expectOAuthError(await post(undefined), 400, 'invalid_request');
    });

    it('unsupported_grant_type', async () => {
      const res = await post(
        form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', code: 'x' }),
        {
          authorization: basic(cc.id, cc.secret),
        },
      );
      expectOAuthError(res, 400, 'unsupported_grant_type');
      // The code grant exists, for the operator console only.
      const code = await post(form({ grant_type: 'authorization_code', code: 'x' }), {
        authorization: basic(cc.id, cc.secret),
      });
      expectOAuthError(code, 400, 'unauthorized_client');
    });

    it('unauthorized_client: a grant the client is not allowed', async () => {
      const pwWithCc = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic(pw.id, pw.secret),
      });
      expectOAuthError(pwWithCc, 400, 'unauthorized_client');
      const ccWithPw = await post(form({ grant_type: 'password', username: 'u', password: 'p' }), {
        authorization: basic(cc.id, cc.secret),
      });
      expectOAuthError(ccWithPw, 400, 'unauthorized_client');
    });

    it('invalid_scope: a scope outside the client, or a malformed scope', async () => {
      const outside = await post(
        form({ grant_type: 'client_credentials', scope: 'orders:read usage:admin' }),
        {
          authorization: basic(cc.id, cc.secret),
        },
      );
      expectOAuthError(outside, 400, 'invalid_scope');
      expect(outside.body.error_description).toContain('usage:admin');
      const malformed = await post(form({ grant_type: 'client_credentials', scope: 'orders:read "x"' }), {
        authorization: basic(cc.id, cc.secret),
      });
      expectOAuthError(malformed, 400, 'invalid_scope');
    });
  });

  describe('tokens', () => {
    async function issued(): Promise<string> {
      const res = await post(form({ grant_type: 'client_credentials' }), {
        authorization: basic(cc.id, cc.secret),
      });
      return res.body.access_token as string;
    }

    it('are rejected by the verifier once expired', async () => {
      const token = await issued();
      const later = createVerifier({
        publicJwk: keys.publicJwk,
        issuer: 'switchboard',
        audience: 'switchboard-api',
        clock: { now: () => new Date(Date.now() + 601_000) },
      });
      await expect(later.verify(token)).rejects.toMatchObject({ reason: 'expired' });
    });

    it('are rejected when signed by another key or tampered with', async () => {
      const other = await testKeys();
      const forged = await other.token({ tenant: 'arrow', scopes: ['orders:admin'], sub: cc.id });
      await expect(keys.verifier.verify(forged)).rejects.toBeInstanceOf(TokenInvalidError);
      const [h, p, s] = (await issued()).split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
      const widened = Buffer.from(JSON.stringify({ ...payload, scope: 'orders:admin' })).toString(
        'base64url',
      );
      await expect(keys.verifier.verify(`${h}.${widened}.${s}`)).rejects.toMatchObject({ reason: 'invalid' });
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
      await expect(keys.verifier.verify(unsigned)).rejects.toBeInstanceOf(TokenInvalidError);
    });

    it('are verifiable with the published JWKS, which holds no private part', async () => {
      const res = await invoke(apiEvent({ method: 'GET', path: '/.well-known/jwks.json' }));
      expect(res.statusCode).toBe(200);
      const jwks = JSON.parse(res.body ?? '{}') as { keys: Array<Record<string, unknown>> };
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).not.toHaveProperty('d');
      expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: 'test' });
      const fromJwks = createVerifier({
        publicJwk: jwks.keys[0]!,
        issuer: 'switchboard',
        audience: 'switchboard-api',
        clock: { now: () => new Date() },
      });
      expect((await fromJwks.verify(await issued())).sub).toBe(cc.id);
      expect(secretReads).toBeGreaterThan(0);
    });
  });

  it('stores secrets and passwords only as scrypt hashes', async () => {
    for (const [id, plain] of [
      [cc.id, [cc.secret]],
      [pw.id, [pw.secret, pw.password]],
    ] as const) {
      const { Item } = await table.doc.send(
        new GetCommand({ TableName: table.tableName, Key: clientKey(id) }),
      );
      const stored = JSON.stringify(Item);
      expect(Item?.secretHash).toMatch(/^scrypt\$/);
      for (const p of plain) expect(stored).not.toContain(p);
    }
  });
});
