import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/reference.ts';
import { runSoak, table } from './soak.ts';

/**
 * The chaos soak CI runs: 2 minutes of orders, Zuora events, usage (and billing runs) and webhook
 * traffic under random partner faults, clock moves and SIGKILL restarts of the suite (a child
 * process on loopback), then every invariant must hold. `SOAK_SEED` repeats a run's choices.
 */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('chaos soak', () => {
  it('npm run soak prints its usage on --help and one line with exit 2 on a bad argument', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'test/soak/soak.ts', ...args], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run soak -- --minutes N');
    const missing = run();
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^npm run soak: --minutes .*\(see --help\)\n$/);
    const bad = run('--minutes', '1', '--bogus');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--bogus');
  });

  it('keeps every invariant through 2 minutes of mixed traffic, faults, clock moves and SIGKILL restarts', async () => {
    const seed = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
    const result = await runSoak({
      minutes: Number(process.env.SOAK_MINUTES ?? 2),
      seed,
      port: await freePort(),
    });
    const printed = `seed ${seed} ${JSON.stringify(result.counts)}\n${JSON.stringify(result.figures)}\n${table(result.rows)}`;
    process.stdout.write(`${printed}\n`);
    // Every kind of traffic got through, so the invariants are about something.
    expect(result.counts.ordersAccepted, printed).toBeGreaterThan(0);
    expect(result.counts.zuoraAcknowledged, printed).toBeGreaterThan(3);
    expect(result.counts.usageRecordsAccepted, printed).toBeGreaterThan(0);
    expect(result.counts.customEventsPublished, printed).toBeGreaterThan(0);
    expect(result.figures.webhookDeliveries, printed).toBeGreaterThan(0);
    expect(result.rows.length).toBeGreaterThanOrEqual(24);
    expect(
      result.rows.filter((r) => !r.ok),
      printed,
    ).toEqual([]);
  }, 900_000);
});
