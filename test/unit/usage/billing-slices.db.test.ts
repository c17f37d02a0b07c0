import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planBillingRun, planSlices, sliceName } from '../../../functions/usage-billing/run-billing.ts';
import { UsageBillingStore } from '../../../shared/db/entities/usage-billing.ts';
import {
  subscriptionShardOf,
  UsageRecordStore,
  usagePeriodShardKey,
} from '../../../shared/db/entities/usage-records.ts';
import { backfillIndexes } from '../../../shared/db/index-backfill.ts';
import { shardOf } from '../../../shared/db/keys.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

/**
 * The billing run's planner and slices on the embedded table: slices come from keys (open periods ×
 * subscription shards, no read at all), a slice is read by one GSI2 query per page (never a scan),
 * every record is in exactly one slice, and every subscription's period is wholly in one slice (so a
 * worker sums complete billing groups).
 */
let table: TestTable;
const commands: string[] = [];
const now = new Date('2026-11-20T12:00:00.000Z');
const nowSec = Math.floor(now.getTime() / 1000);
const SHARDS = 8;
let records: UsageRecordStore;
const accepted = new Map<string, string>(); // record id → `${tenant}#${sub}#${period}`

beforeAll(async () => {
  table = await startTestTable();
  table.doc.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  records = new UsageRecordStore(table.doc, table.tableName, { group: 4, period: SHARDS });
  const timestamps = ['2026-10-15T08:00:00.000Z', '2026-11-19T08:00:00.000Z'];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < 1_500) {
        const i = next++;
        const tenant = i % 7 === 0 ? 'other' : 'platform';
        const sub = `S-${i % 37}`;
        const timestamp = timestamps[i % 2]!;
        await records.put(
          {
            tenant,
            id: `r-${i}`,
            subscriptionNumber: sub,
            chargeNumber: `C-${i % 3}`,
            unit: 'Minutes',
            quantity: '1',
            timestamp,
            acceptedAt: now.toISOString(),
            expiresAt: nowSec + 86_400,
          },
          nowSec,
        );
        accepted.set(`${tenant}#r-${i}`, `${tenant}#${sub}#${timestamp.slice(0, 7)}`);
      }
    }),
  );
});
afterAll(async () => {
  await table?.stop();
});

describe('billing run planner and slices', () => {
  it('plans one slice per (open period, subscription shard) from keys alone: no read of any record', async () => {
    commands.length = 0;
    const sent: Array<{ runId: string; period: string; shard: number }> = [];
    const run = await planBillingRun(
      { trigger: 'schedule' },
      {
        billing: new UsageBillingStore(table.doc, table.tableName),
        slices: { send: async (m) => void sent.push(...m) },
        periodShards: SHARDS,
        clock: { now: () => now },
        ids: ulidGenerator,
        config: { lateWindowDays: 35 },
      },
    );
    expect(commands.filter((c) => /Query|Scan/.test(c))).toEqual([]);
    expect(commands).toEqual(['PutItemCommand']); // the run item, with its slice count
    const names = sent.map(sliceName);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(sent.map((s) => s.period))).toEqual(new Set(['2026-10', '2026-11']));
    expect(sent.every((s) => s.runId === run.id && s.shard >= 0 && s.shard < SHARDS)).toBe(true);
    expect(run.slices).toEqual({ total: names.length, done: 0 });
    expect(planSlices(now, 35, SHARDS)).toEqual(sent.map(({ period, shard }) => ({ period, shard })));
  });

  it('reads each slice by key (GSI2 queries, no scan); every record is in exactly one slice, every subscription period in one', async () => {
    commands.length = 0;
    const seen = new Map<string, number>();
    const sliceOfGroup = new Map<string, string>();
    for (const s of planSlices(now, 35, SHARDS)) {
      for await (const r of records.listPeriodShard(s.period, s.shard, nowSec)) {
        const id = `${r.tenant}#${r.id}`;
        seen.set(id, (seen.get(id) ?? 0) + 1);
        const group = `${r.tenant}#${r.subscriptionNumber}#${r.period}`;
        expect(group).toBe(accepted.get(id));
        expect(s.shard).toBe(subscriptionShardOf(r.tenant, r.subscriptionNumber, SHARDS));
        const first = sliceOfGroup.get(group);
        if (first) expect(sliceName(s)).toBe(first);
        else sliceOfGroup.set(group, sliceName(s));
      }
    }
    expect(commands.length).toBeGreaterThan(0);
    expect(new Set(commands)).toEqual(new Set(['QueryCommand']));
    expect(seen.size).toBe(accepted.size);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // Spread: the subscriptions do not all land in one slice.
    expect(new Set(sliceOfGroup.values()).size).toBeGreaterThan(SHARDS);
  });

  it("index layout 4 moves a record keyed the old way (shard by record id) into its subscription's slice", async () => {
    // The record shard before the fan-out: hash of the record id. Pick a record whose two shards differ.
    const id = [...accepted.keys()].find((k) => {
      const [tenant, rid] = k.split('#') as [string, string];
      const sub = accepted.get(k)!.split('#')[1]!;
      return shardOf(rid, SHARDS) !== subscriptionShardOf(tenant, sub, SHARDS);
    })!;
    const [tenant, rid] = id.split('#') as [string, string];
    const [, sub, period] = accepted.get(id)!.split('#') as [string, string, string];
    const slice = { period, shard: subscriptionShardOf(tenant, sub, SHARDS) };
    const inSlice = async () => {
      const ids: string[] = [];
      for await (const r of records.listPeriodShard(slice.period, slice.shard, nowSec)) ids.push(r.id);
      return ids;
    };
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: `USAGE#${tenant}#${rid}`, SK: 'RECORD' },
        UpdateExpression: 'SET GSI2PK = :old',
        ExpressionAttributeValues: { ':old': usagePeriodShardKey(period, shardOf(rid, SHARDS)) },
        ConditionExpression: 'attribute_exists(PK)',
      }),
    );
    expect(await inSlice()).not.toContain(rid); // its worker would never bill it
    await backfillIndexes(table.doc, table.tableName, { usagePeriodShards: SHARDS });
    expect(await inSlice()).toContain(rid);
  });
});
