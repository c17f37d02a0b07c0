import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClientsCli } from '../../../local/cli/clients-core.ts';
import { ensureDevClients, updateDevClientFile } from '../../../local/dev-clients.ts';
import { ClientRepository } from '../../../shared/auth/clients.ts';
import { verifySecret } from '../../../shared/auth/hash.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

describe('npm run clients (core)', () => {
  let table: TestTable;
  let repo: ClientRepository;
  beforeAll(async () => {
    table = await startTestTable();
    repo = new ClientRepository(table.doc, table.tableName);
  });
  afterAll(async () => table.stop());

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runClientsCli(argv, {
      clients: repo,
      clock: { now: () => new Date('2026-11-01T12:00:00Z') },
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const field = (text: string, name: string) => new RegExp(`^${name}:\\s+(\\S+)$`, 'm').exec(text)?.[1];

  it('add prints the secret once; list never shows it; rotate replaces it; remove deletes', async () => {
    const added = await cli(
      'add',
      '--tenant',
      'arrow',
      '--scopes',
      'orders:write orders:read',
      '--client-id',
      'arrow-cli',
    );
    expect(added.code).toBe(0);
    const secret = field(added.out, 'client_secret')!;
    expect(secret).toMatch(/^[\w-]{40,}$/);
    expect(await verifySecret(secret, (await repo.get('arrow-cli'))!.secretHash)).toBe(true);

    const pw = await cli(
      'add',
      '--tenant',
      'zuora',
      '--scopes',
      'zuora:events',
      '--grant',
      'password',
      '--username',
      'emitter',
      '--client-id',
      'zuora-cli',
    );
    expect(pw.code).toBe(0);
    const password = field(pw.out, 'password')!;
    expect(await verifySecret(password, (await repo.get('zuora-cli'))!.users![0]!.passwordHash)).toBe(true);

    const newPassword = field((await cli('rotate', 'zuora-cli', '--username', 'emitter')).out, 'password')!;
    const hash = (await repo.get('zuora-cli'))!.users![0]!.passwordHash;
    expect(await verifySecret(newPassword, hash)).toBe(true);
    expect(await verifySecret(password, hash)).toBe(false);
    expect((await cli('rotate', 'zuora-cli', '--username', 'ghost')).code).toBe(1);

    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^CLIENT ID\s+TENANT\s+SCOPES\s+GRANTS\s+CREATED/m);
    expect(list.out).toMatch(
      /^arrow-cli\s+arrow\s+orders:write orders:read\s+client_credentials\s+2026-11-01T12:00:00.000Z/m,
    );
    expect(list.out).toMatch(/^zuora-cli\s+zuora\s+zuora:events\s+password\s+\S+\s+emitter$/m);
    expect(list.out).not.toContain(secret);
    expect(list.out).not.toContain(password);
    expect(list.out).not.toContain(newPassword);
    expect((await cli('list', '--tenant', 'zuora')).out).not.toContain('arrow-cli');

    const rotated = await cli('rotate', 'arrow-cli');
    expect(rotated.code).toBe(0);
    const fresh = field(rotated.out, 'client_secret')!;
    expect(fresh).not.toBe(secret);
    const stored = (await repo.get('arrow-cli'))!;
    expect(await verifySecret(fresh, stored.secretHash)).toBe(true);
    expect(await verifySecret(secret, stored.secretHash)).toBe(false);
    expect(stored.rotatedAt).toBe('2026-11-01T12:00:00.000Z');

    expect((await cli('remove', 'arrow-cli')).code).toBe(0);
    expect(await repo.get('arrow-cli')).toBeUndefined();
    const again = await cli('remove', 'arrow-cli');
    expect(again.code).toBe(1);
    expect(again.err).toContain('No client arrow-cli');
  });

  it('refuses bad input with a message naming the option, and changes nothing', async () => {
    const before = (await repo.list()).length;
    const scope = await cli('add', '--tenant', 'arrow', '--scopes', 'orders:write orders:everything');
    expect(scope.code).toBe(2);
    expect(scope.err).toContain('--scopes');
    const user = await cli('add', '--tenant', 'zuora', '--scopes', 'zuora:events', '--grant', 'password');
    expect(user.code).toBe(2);
    expect(user.err).toContain('--username');
    const noTenant = await cli('add', '--scopes', 'orders:read');
    expect(noTenant.err).toContain('--tenant');
    expect(
      (await cli('add', '--tenant', 'zuora', '--scopes', 'zuora:events', '--client-id', 'zuora-cli')).err,
    ).toContain('already exists');
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('rotate')).code).toBe(2);
    expect((await cli('add', '--bogus')).code).toBe(2);
    expect((await cli('rotate', 'nobody-at-all')).code).toBe(1);
    expect((await repo.list()).length).toBe(before);
  });

  it('rotate on a dev client keeps dev-clients.json in step (banner, send and clients token use it)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-dev-rotate-'));
    try {
      const seeded = await ensureDevClients(repo, dataDir);
      const arrow = seeded.find((c) => c.kind === 'distributor')!;
      const code = await runClientsCli(['rotate', arrow.clientId], {
        clients: repo,
        clock: { now: () => new Date('2026-11-01T12:00:00Z') },
        out: () => {},
        err: () => {},
        rotated: (id, change) => updateDevClientFile(dataDir, id, change),
      });
      expect(code).toBe(0);
      const file = JSON.parse(readFileSync(join(dataDir, 'dev-clients.json'), 'utf8')) as Array<{
        clientId: string;
        clientSecret: string;
      }>;
      const now = file.find((c) => c.clientId === arrow.clientId)!.clientSecret;
      expect(now).not.toBe(arrow.clientSecret);
      const stored = await repo.get(arrow.clientId);
      expect(await verifySecret(now, stored!.secretHash)).toBe(true);
      expect(statSync(join(dataDir, 'dev-clients.json')).mode & 0o777).toBe(0o600);
      // The next start keeps the rotated secret rather than re-creating the client.
      const restarted = await ensureDevClients(repo, dataDir);
      expect(restarted.find((c) => c.kind === 'distributor')!.clientSecret).toBe(now);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe('ensureDevClients', () => {
    let dataDir: string;
    beforeAll(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'switchboard-dev-clients-'));
    });
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it('seeds one client per tenant kind once, persists them 0600, and re-creates missing ones', async () => {
      const first = await ensureDevClients(repo, dataDir);
      expect(first.map((c) => [c.kind, c.tenant])).toEqual([
        ['distributor', 'arrow'],
        ['zuora', 'zuora'],
        ['platform', 'platform'],
        ['ops', 'ops'],
      ]);
      const zuora = first.find((c) => c.kind === 'zuora')!;
      expect(zuora.grantTypes).toEqual(['password']);
      expect(zuora.username).toBeDefined();
      expect(first.find((c) => c.kind === 'platform')!.scopes).toContain('orders:admin');
      const file = join(dataDir, 'dev-clients.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first);
      for (const c of first) {
        const stored = (await repo.get(c.clientId))!;
        expect(stored.tenant).toBe(c.tenant);
        expect(await verifySecret(c.clientSecret, stored.secretHash)).toBe(true);
      }
      expect(
        await verifySecret(zuora.password!, (await repo.get(zuora.clientId))!.users![0]!.passwordHash),
      ).toBe(true);

      // A restart keeps the same credentials; a client lost from the table comes back with them.
      const arrow = first[0]!;
      await repo.remove(arrow.clientId);
      const second = await ensureDevClients(repo, dataDir);
      expect(second).toEqual(first);
      expect(await verifySecret(arrow.clientSecret, (await repo.get(arrow.clientId))!.secretHash)).toBe(true);
    });
  });
});
