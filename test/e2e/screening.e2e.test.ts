import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { localSecretValues } from '../../local/secrets.ts';
import {
  createScreeningProviderFromEnv,
  ScreeningUnavailableError,
} from '../../shared/screening/provider.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

/**
 * The `trade-gov` provider exactly as the order functions build it (env only), through the local
 * runtime: `SCREENING_BASE_URL` points at the mounted screening sandbox and the subscription key is
 * read from the emulated Secrets Manager.
 */

describe('screening through the local runtime', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  beforeAll(async () => {
    rt = await startTestRuntime();
  });
  afterAll(async () => rt.cleanup());

  it('declares the secret the provider reads, and the functions that screen use the screening partner', () => {
    expect(localSecretValues['screening-credentials']?.()).toEqual({
      subscriptionKey: expect.any(String),
    });
    const screeners = Object.entries(wiring.functions).filter(([, f]) =>
      f.uses.some((u) => u.kind === 'partner' && u.name === 'screening'),
    );
    expect(screeners.length).toBeGreaterThan(0);
  });

  it('screens with the env-built trade-gov provider against the mounted sandbox', async () => {
    const provider = createScreeningProviderFromEnv();
    const blocked = await provider.screen({ name: 'Vostok Dual Use Components LLC', country: 'RU' });
    expect(blocked).toMatchObject({ provider: 'trade-gov', outcome: 'blocked' });
    expect(blocked.evidence[0]!.entryName).toBe('Vostok Dual-Use Components OOO');
    expect((await provider.screen({ name: 'Contoso Ltd', country: 'US' })).outcome).toBe('clear');

    const records = await api(rt, 'GET', '/_sandbox/screening/_records');
    expect(records.body.map((r: { name: string }) => r.name)).toEqual([
      'Vostok Dual Use Components LLC',
      'Contoso Ltd',
    ]);
  });

  it('reports an outage configured over HTTP as unavailable, then recovers', async () => {
    const provider = createScreeningProviderFromEnv();
    const faults = await api(rt, 'PUT', '/_sandbox/screening/_faults', {
      body: { errorRate: 1, status: 503 },
    });
    expect(faults.status).toBe(200);
    await expect(provider.screen({ name: 'Contoso Ltd', country: 'US' })).rejects.toBeInstanceOf(
      ScreeningUnavailableError,
    );
    await api(rt, 'PUT', '/_sandbox/screening/_faults', { body: {} });
    expect((await provider.screen({ name: 'Contoso Ltd', country: 'US' })).outcome).toBe('clear');
  });

  it('refuses a search without the subscription key', async () => {
    const res = await api(rt, 'GET', '/_sandbox/screening/consolidated_screening_list/v1/search?name=Vostok');
    expect(res.status).toBe(401);
  });
});
