import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildClient,
  ClientExistsError,
  ClientRepository,
  clientKey,
  fromItem,
  registerClient,
  rotateClientSecret,
} from '../../../shared/auth/clients.ts';
import { verifySecret } from '../../../shared/auth/hash.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

describe('OAuth client repository', () => {
  let table: TestTable;
  let repo: ClientRepository;
  const now = new Date('2026-11-01T10:00:00Z');
  beforeAll(async () => {
    table = await startTestTable();
    repo = new ClientRepository(table.doc, table.tableName);
  });
  afterAll(async () => table.stop());

  it('adds a client with hashed secrets, unique by id', async () => {
    const created = await registerClient(
      {
        tenant: 'zuora',
        clientId: 'zuora-main',
        scopes: ['zuora:events'],
        grantTypes: ['password'],
        username: 'emitter',
      },
      { clients: repo, now },
    );
    expect(created.password).toBeDefined();
    const stored = await repo.get('zuora-main');
    expect(stored).toMatchObject({
      clientId: 'zuora-main',
      tenant: 'zuora',
      grantTypes: ['password'],
      scopes: ['zuora:events'],
      createdAt: now.toISOString(),
    });
    expect(await verifySecret(created.clientSecret, stored!.secretHash)).toBe(true);
    expect(await verifySecret(created.password!, stored!.users![0]!.passwordHash)).toBe(true);
    await expect(
      registerClient(
        { tenant: 'other', clientId: 'zuora-main', scopes: ['orders:read'] },
        { clients: repo, now },
      ),
    ).rejects.toBeInstanceOf(ClientExistsError);
    // The refused duplicate left the first client untouched.
    expect((await repo.get('zuora-main'))?.tenant).toBe('zuora');
  });

  it('generates an id under the tenant when none is given, and defaults to client_credentials', async () => {
    const created = await registerClient(
      { tenant: 'arrow', scopes: ['orders:write'] },
      { clients: repo, now },
    );
    expect(created.client.clientId).toMatch(/^arrow-[0-9a-z]{26}$/);
    expect(created.client.grantTypes).toEqual(['client_credentials']);
    expect(created.password).toBeUndefined();
  });

  it('refuses unknown scopes, a password grant without user, and ids unsafe for Basic or keys', async () => {
    await expect(
      buildClient({ tenant: 'arrow', scopes: ['orders:everything' as 'orders:read'] }, now),
    ).rejects.toThrow();
    await expect(
      buildClient({ tenant: 'arrow', scopes: ['orders:read'], grantTypes: ['password'] }, now),
    ).rejects.toThrow(/username/);
    await expect(
      buildClient({ tenant: 'arrow', scopes: ['orders:read'], clientId: 'a:b#c' }, now),
    ).rejects.toThrow();
    await expect(buildClient({ tenant: 'Arrow Inc', scopes: ['orders:read'] }, now)).rejects.toThrow();
  });

  it('lists clients by tenant, rotates and removes', async () => {
    const all = await repo.list();
    expect(all.map((c) => c.tenant)).toEqual(['arrow', 'zuora']);
    expect((await repo.list('zuora')).map((c) => c.clientId)).toEqual(['zuora-main']);
    const before = (await repo.get('zuora-main'))!.secretHash;
    const later = new Date('2026-11-02T00:00:00Z');
    const secret = await rotateClientSecret('zuora-main', { clients: repo, now: later });
    const after = (await repo.get('zuora-main'))!;
    expect(after.secretHash).not.toBe(before);
    expect(after.rotatedAt).toBe(later.toISOString());
    expect(await verifySecret(secret!, after.secretHash)).toBe(true);
    expect(await rotateClientSecret('ghost-client', { clients: repo, now: later })).toBeUndefined();
    expect(await repo.get('ghost-client')).toBeUndefined();
    expect(await repo.remove('zuora-main')).toBe(true);
    expect(await repo.remove('zuora-main')).toBe(false);
    expect(await repo.get('zuora-main')).toBeUndefined();
  });

  it('fromItem parses: a tampered item is an error, not a client', async () => {
    await table.doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          ...clientKey('broken-1'),
          clientId: 'broken-1',
          tenant: 'arrow',
          scopes: ['root'],
          grantTypes: [],
        },
      }),
    );
    await expect(repo.get('broken-1')).rejects.toThrow();
    const { Item } = await table.doc.send(
      new GetCommand({ TableName: table.tableName, Key: clientKey('broken-1') }),
    );
    expect(() => fromItem(Item!)).toThrow();
    expect(await repo.get('no such id!')).toBeUndefined();
  });
});
