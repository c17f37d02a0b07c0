import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDirectUsageBody, chunkAppDirectLines } from '../../../functions/usage-billing/appdirect-usage.ts';
import type { AppDirectSandbox } from '../../../local/sandboxes/appdirect.ts';
import { createAppDirectSandbox } from '../../../local/sandboxes/appdirect.ts';
import { LOCAL_APPDIRECT_CREDENTIALS } from '../../../local/sandboxes/appdirect-credentials.ts';
import { systemClock } from '../../../shared/clock.ts';
import type { SubmissionLine } from '../../../shared/db/entities/usage-billing.ts';
import { serveSandboxes } from '../../helpers/sandbox-server.ts';

let servers: Awaited<ReturnType<typeof serveSandboxes>>;
const basic = `Basic ${Buffer.from(`${LOCAL_APPDIRECT_CREDENTIALS.clientId}:${LOCAL_APPDIRECT_CREDENTIALS.clientSecret}`).toString('base64')}`;

beforeAll(async () => {
  servers = await serveSandboxes({ appdirect: createAppDirectSandbox }, { clock: systemClock });
});
afterAll(async () => servers?.stop());

async function token(scope: string) {
  const res = await fetch(`${servers.baseUrl('appdirect')}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&scope=${scope}`,
  });
  return {
    status: res.status,
    body: (await res.json()) as { access_token: string; expires_in: number; token_type: string },
  };
}

const post = async (accessToken: string, body: unknown) => {
  const res = await fetch(`${servers.baseUrl('appdirect')}/api/integration/v2/billing/usage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const line = (i: number, over: Partial<SubmissionLine> = {}): SubmissionLine => ({
  tenant: 'platform',
  subscriptionNumber: `S-${i}`,
  chargeNumber: `C-${i}`,
  unit: 'GIGABYTE',
  period: '2026-11',
  accountNumber: `acct-${i % 3}`,
  quantity: '1',
  target: '1',
  targetCount: 1,
  usageDate: '2026-11-20T10:00:00.000Z',
  ...over,
});

describe('AppDirect sandbox (Billing Usage V2)', () => {
  it('issues client-credentials tokens as AppDirect does, and refuses bad clients', async () => {
    const ok = await token('ROLE_PARTNER');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'bearer', expires_in: 43_199 });
    const bad = await fetch(`${servers.baseUrl('appdirect')}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: 'Basic eDp5', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=ROLE_PARTNER',
    });
    expect(bad.status).toBe(401);
  });

  it('202 with a request id, PROCESSING then COMPLETED, and a reused key answered as a duplicate', async () => {
    const { body: t } = await token('ROLE_PARTNER');
    const body = appDirectUsageBody({ id: 'usub_dup', lines: [line(1), line(2)] });
    const first = await post(t.access_token, body);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      idempotencyKey: 'usub_dup',
      queryUsageStatus: `/api/integration/v2/billing/usage/requests/${first.body.requestId}`,
    });
    const status = async () =>
      (await (
        await fetch(`${servers.baseUrl('appdirect')}${first.body.queryUsageStatus}`, {
          headers: { authorization: `Bearer ${t.access_token}` },
        })
      ).json()) as { status: string };
    expect((await status()).status).toBe('PROCESSING');
    expect((await status()).status).toBe('COMPLETED');
    const again = await post(t.access_token, body);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('DUPLICATE_IDEMPOTENCY_KEY');
    const received = servers
      .get<AppDirectSandbox>('appdirect')
      .records.filter((r) => r.kind === 'usage.received');
    expect(received).toHaveLength(1);
  });

  it('enforces the limits the chunker respects: 250 preconfigured, volume pricing alone, ROLE_PARTNER to write', async () => {
    const { body: t } = await token('ROLE_PARTNER');
    const tooMany = appDirectUsageBody({
      id: 'usub_big',
      lines: Array.from({ length: 251 }, (_, i) => line(i)),
    });
    expect((await post(t.access_token, tooMany)).status).toBe(400);
    for (const [i, chunk] of chunkAppDirectLines(Array.from({ length: 251 }, (_, i) => line(i))).entries()) {
      expect(
        (await post(t.access_token, appDirectUsageBody({ id: `usub_chunk_${i}`, lines: chunk }))).status,
      ).toBe(202);
    }
    const sandbox = servers.get<AppDirectSandbox>('appdirect');
    sandbox.state.volumeUnits = ['TERABYTE'];
    const mixed = [line(1, { unit: 'TERABYTE', pricing: 'volume' }), line(2)];
    expect(
      (await post(t.access_token, appDirectUsageBody({ id: 'usub_mixed', lines: mixed }))).body.code,
    ).toBe('MIXED_PRICING_MODELS');
    for (const [i, chunk] of chunkAppDirectLines(mixed).entries()) {
      expect(
        (await post(t.access_token, appDirectUsageBody({ id: `usub_split_${i}`, lines: chunk }))).status,
      ).toBe(202);
    }
    const { body: read } = await token('ROLE_PARTNER_READ');
    expect(
      (await post(read.access_token, appDirectUsageBody({ id: 'usub_ro', lines: [line(1)] }))).status,
    ).toBe(403);
  });
});
