import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/reference.ts';

/**
 * The operator console in real Chromium (Debian's `chromium`, driven by playwright-core) against
 * `npm start` in a child process: sign in with PKCE, clear an order held for review and watch it
 * reach FULFILLED, reject another, replay a failed webhook delivery, redrive a dead letter and start
 * a billing run — all through the page. Any console error or page error fails the test. The
 * dashboard and the order timeline are photographed on the way: into `docs/` (the README's
 * screenshots) with `UPDATE_SCREENSHOTS=1`, else into the run's temporary folder.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

let child: ChildProcess;
let dataDir: string;
let url: string;
let browser: Browser;
let page: Page;
const problems: string[] = [];
let output = '';

async function call(
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

async function token(kind: string): Promise<string> {
  const clients = JSON.parse(await readFile(join(dataDir, 'dev-clients.json'), 'utf8')) as any[];
  const c = clients.find((x) => x.kind === kind);
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
    }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

const advance = (seconds: number) => call('POST', '/_local/clock', undefined, { advanceSeconds: seconds });

/** Confirms the open dialog (typing the reason when it asks for one) and waits for the result. */
async function confirm(button: string, reason?: string) {
  const dialog = page.getByRole('dialog');
  await expect.poll(() => dialog.isVisible()).toBe(true);
  if (reason) await dialog.getByLabel(/Reason/).fill(reason);
  await dialog.getByRole('button', { name: button }).click();
  await expect
    .poll(async () => ((await dialog.isVisible()) ? `still open: ${await dialog.innerText()}` : 'closed'))
    .toBe('closed');
}

const statusText = () => page.getByRole('status').innerText();

describe.skipIf(!existsSync(CHROMIUM))('operator console in Chromium', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-console-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PORT: String(port),
        SWITCHBOARD_DATA_DIR: dataDir,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 90_000);
      child.stdout!.on('data', () => {
        if (output.includes('Try: npm run send')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${output}`)));
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      });
    }
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('runs the hub from the page: review, replay, redrive, billing', async () => {
    const arrow = await token('distributor');
    const operator = JSON.parse(await readFile(join(dataDir, 'dev-clients.json'), 'utf8')).find(
      (c: any) => c.kind === 'operator',
    );

    // A distributor endpoint whose first delivery is answered 410 Gone: it fails at once.
    const endpoint = await call('POST', '/v1/webhooks/endpoints', arrow, {
      url: `${url}/_sandbox/receiver/arrow-console`,
      eventTypes: ['order.*'],
    });
    expect(endpoint.status).toBe(201);
    await call('PUT', '/_sandbox/receiver/arrow-console/_config', undefined, {
      secret: endpoint.body.secret,
      failStatus: 410,
      failTimes: 1,
    });

    // Two orders screening holds for review.
    const sample = JSON.parse(
      await readFile(join(repoRoot, 'events/api/orders/possible-match.json'), 'utf8'),
    );
    for (const id of ['CONSOLE-CLEAR-1', 'CONSOLE-REJECT-1']) {
      const r = await call('POST', '/v1/orders', arrow, { ...sample, channelOrderId: id });
      expect(r.body.status).toBe('NEEDS_REVIEW');
    }

    // A SaaShop order for a product the catalogue does not sell: the poller stores it FAILED.
    const failedSaashop = await call('POST', '/_sandbox/saashop/_orders', undefined, {
      productCode: 'SB-QUANTUM',
    });
    expect(failedSaashop.status).toBe(201);
    expect((await call('POST', '/_local/schedules/saashop-poller')).status).toBeLessThan(300);

    // A poison message in crm-sync's queue: it dead-letters after its receives.
    const sqs = await fetch(`${url}/_aws`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: JSON.stringify({
        QueueUrl: `${url}/_aws/000000000000/crm-sync`,
        MessageBody: '{"not":"an event"}',
      }),
    });
    expect(sqs.status).toBe(200);
    for (let i = 0; i < 10; i++) await advance(200);

    // Sign in with PKCE through the hub's login page.
    await page.goto(`${url}/console/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/oauth\/authorize/);
    await page.getByLabel('Username').fill(operator.username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Incorrect username or password');
    problems.length = 0; // the 401 of the refused sign-in is logged by Chromium; it is expected
    await page.getByLabel('Password').fill(operator.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/console/**`);
    await expect.poll(() => page.getByText(`Signed in as ${operator.username}`).isVisible()).toBe(true);

    // Dashboard: the review queue holds both orders; the dead letter shows.
    await expect.poll(() => page.getByTestId('review-size').innerText(), { timeout: 15_000 }).toBe('2');
    const shots = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs') : join(dataDir, 'shots');
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'console-dashboard.png'), fullPage: true });

    // Review queue: clear one with a reason, reject the other.
    await page.getByRole('link', { name: 'Review queue' }).click();
    const clearRow = page.getByRole('row', { name: /CONSOLE-CLEAR-1/ });
    await clearRow.getByRole('button', { name: 'Clear' }).click();
    await confirm('Clear order', 'Checked by hand: a different Kestrel (US, not listed)');
    await expect.poll(statusText).toContain('CONSOLE-CLEAR-1 is now ACCEPTED');
    await page
      .getByRole('row', { name: /CONSOLE-REJECT-1/ })
      .getByRole('button', { name: 'Reject' })
      .click();
    await confirm('Reject order', 'Confirmed match with the listed entity');
    await expect.poll(statusText).toContain('CONSOLE-REJECT-1 is now REJECTED');

    // The cleared order goes on to FULFILLED; its timeline shows the operator's reason and evidence.
    await page.getByRole('link', { name: 'Orders', exact: true }).click();
    await page.getByLabel('Search (channel order id or company)').fill('console-clear');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page
      .getByRole('row', { name: /CONSOLE-CLEAR-1/ })
      .getByRole('link')
      .click();
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return page.getByRole('heading', { level: 2 }).innerText();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toContain('FULFILLED');
    await expect.poll(() => page.getByText('Checked by hand').first().isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('table', { name: /Evidence/ }).isVisible()).toBe(true);
    await page.screenshot({ path: join(shots, 'console-timeline.png'), fullPage: true });

    // Webhooks: the delivery answered 410 failed; enable the endpoint again and replay it.
    const enabled = await call(
      'PATCH',
      `/v1/webhooks/endpoints/${endpoint.body.id}`,
      await token('distributor'),
      {
        status: 'enabled',
      },
    );
    expect(enabled.body).toMatchObject({ status: 'enabled' });
    await page.getByRole('link', { name: 'Webhooks' }).click();
    const failed = page.getByRole('button', { name: /^Replay delivery/ }).first();
    await expect.poll(() => failed.isVisible(), { timeout: 15_000 }).toBe(true);
    await failed.click();
    await confirm('Replay');
    await expect.poll(statusText).toMatch(/Delivery msg_\w+ is pending again/);
    await expect
      .poll(
        async () =>
          (await call('GET', '/_sandbox/receiver/_records')).body.filter((r: any) => r.verified).length,
        {
          timeout: 15_000,
        },
      )
      .toBeGreaterThan(0);

    // Dead letters: redrive crm-sync's.
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const redrive = page.getByRole('button', { name: 'Redrive crm-sync' });
    await expect.poll(() => redrive.isEnabled(), { timeout: 15_000 }).toBe(true);
    await redrive.click();
    await confirm('Redrive');
    await expect.poll(statusText).toContain('Redrive of crm-sync started');
    await expect
      .poll(async () => (await call('GET', '/_local/queues')).body['crm-sync'].deadLettered)
      .toBe(0);

    // Marketplace events: the failed SaaShop order, with its reason.
    await page.getByRole('link', { name: 'Marketplace events' }).click();
    const failedRow = page.getByRole('row', { name: new RegExp(failedSaashop.body.orderId) });
    await expect.poll(() => failedRow.innerText(), { timeout: 15_000 }).toContain('UNKNOWN_PRODUCT');
    expect(await failedRow.innerText()).toContain('SB-QUANTUM');

    // Usage & billing: start a run and see it finish.
    await page.getByRole('link', { name: 'Usage & billing' }).click();
    await page.getByRole('button', { name: 'Start billing run' }).click();
    await confirm('Start billing run');
    await expect.poll(statusText).toMatch(/Billing run urun_\w+ is queued/);
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return page.getByRole('heading', { level: 3, name: /^Run urun_/ }).innerText();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toContain('succeeded');

    // Every action is in the audit trail, in the operator's name.
    await page.getByRole('link', { name: 'Audit' }).click();
    for (const action of ['/clear', '/reject', '/replay', '/redrive', 'POST /v1/ops/billing-runs']) {
      await expect
        .poll(() =>
          page
            .getByRole('row', { name: new RegExp(`${operator.username}.*${action.replace('/', '\\/')}`) })
            .count(),
        )
        .toBeGreaterThan(0);
    }

    // Keyboard: the skip link and the navigation are reachable by Tab.
    await page.keyboard.press('Tab');
    await expect
      .poll(() => page.evaluate(() => (globalThis as any).document.activeElement?.textContent ?? ''))
      .toContain('Skip to content');

    // Sign out ends the sign-in: the page offers Sign in again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(problems).toEqual([]);
  }, 240_000);
});
