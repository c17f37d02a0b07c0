import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, startRuntime } from '../../local/runtime.ts';

/**
 * The API reference at `/docs` of the local suite in real Chromium (Debian's `chromium`, driven by
 * playwright-core; skipped where it is absent, like the console's browser test): the page renders the
 * document GET /openapi.json serves, with the order route and the OAuth security scheme, and no
 * console or page error.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

describe.skipIf(!existsSync(CHROMIUM))('API reference (/docs) in Chromium', () => {
  let runtime: Runtime;
  let dataDir: string;
  let browser: Browser;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sb-docs-'));
    runtime = await startRuntime({ port: 0, quiet: true, autoRun: false, dataDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('redirects /docs to /docs/ and serves the page with a CSP', async () => {
    const bare = await fetch(`${runtime.url}/docs`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/docs/');
    const page = await fetch(`${runtime.url}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${runtime.url}/docs/no-such-file.js`)).status).toBe(404);
  });

  it('renders the order route and the OAuth scheme from GET /openapi.json', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${runtime.url}/docs/`);
    const orders = page.locator('.opblock-summary-path', { hasText: /^\/v1\/orders$/ }).first();
    await orders.waitFor({ timeout: 60_000 });
    expect(await page.locator('.opblock-post .opblock-summary-path').allTextContents()).toContain(
      '/v1/orders',
    );
    // The OAuth 2.0 security scheme shows as the Authorize button.
    expect(await page.locator('button.authorize').count()).toBeGreaterThan(0);
    // One scheme per grant, each scope described in words.
    await page.locator('button.authorize').first().click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.waitFor({ timeout: 10_000 });
    const text = await dialog.innerText();
    for (const scheme of ['clientCredentials', 'password', 'operatorSignIn']) expect(text).toContain(scheme);
    expect(text).toContain('Deliver Zuora subscription events');
    await page.keyboard.press('Escape');
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it('gets a token with the client credentials flow from the page', async () => {
    const client = runtime.devClients.find((c) => c.kind === 'distributor')!;
    const page = await browser.newPage();
    const tokenCalls: string[] = [];
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (r.url().endsWith('/oauth/token')) tokenCalls.push(`${r.method()} ${r.url()}`);
    });
    await page.goto(`${runtime.url}/docs/`);
    await page.locator('button.authorize').first().click();
    const scheme = page.locator('.auth-container', { hasText: 'Partners and the platform' });
    await scheme.waitFor({ timeout: 10_000 });
    await scheme.locator('input[id^="client_id"]').fill(client.clientId);
    await scheme.locator('input[id^="client_secret"]').fill(client.clientSecret);
    await scheme.getByRole('button', { name: 'Apply given OAuth2 credentials' }).click();
    // Swagger UI swaps Authorize for Logout once the token endpoint answered with a token.
    await scheme.getByRole('button', { name: 'Remove authorization' }).waitFor({ timeout: 15_000 });
    // One POST to the API's token endpoint (locally page and API share an origin; that the served
    // document names the API as its server is checked in test/contract/openapi.test.ts).
    expect(tokenCalls).toEqual([`POST ${runtime.url}/oauth/token`]);
    expect(await page.title()).toBe('Switchboard API reference');
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);
});
