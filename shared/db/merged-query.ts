import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { CursorError } from './client.ts';
import { type IndexName, tableDefinition } from './table.ts';

/**
 * One page of a list served from index partitions, never a scan: the items of several partitions
 * (the shards of a write-sharded key, the statuses of a tenant, …) merged in one global order.
 *
 * Every source is a partition of an index, optionally narrowed to a sort-key `prefix`; what follows
 * the prefix is the item's ORDER KEY, and all sources share one order (e.g. ULID ids, so time).
 * A k-way merge pops items in that order, so the page is exactly what one big sorted partition would
 * give, and the cursor is simply the last order key popped: each source is re-queried from it with a
 * key condition, which also keeps paging right while items move between partitions (an order
 * changing status) — it is neither skipped nor repeated.
 *
 * A `filter` applied to the merged items is only for the dimensions no index key covers; the merge
 * keeps reading until the page is full or every source is exhausted, so a page is never empty while
 * matches remain. One call examines at most `maxExamined` entries: past that it answers what it
 * found (a short page, or an empty one marked `partial`) with the cursor to continue.
 */
export interface MergeSource {
  index: IndexName;
  pk: string;
  /** Sort-key prefix shared by this source's entries (`FULFILLED#`); the rest is the order key. */
  prefix?: string;
  /** Inclusive order-key bounds of this source alone (e.g. a search prefix), within the query's. */
  from?: string;
  to?: string;
}

export interface MergedQuery<T> {
  doc: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  sources: MergeSource[];
  /** Newest (largest order key) first. */
  descending: boolean;
  limit: number;
  /** Inclusive bounds on the order key (e.g. ids of a date range). */
  from?: string;
  to?: string;
  /** Dimensions the sources do not key on; applied to parsed items. */
  filter?: (item: T) => boolean;
  /** Names what `filter` selects, so a cursor of one filter cannot be replayed under another. */
  filterKey?: string;
  parse: (item: Record<string, unknown>, source: MergeSource) => T;
  cursor?: string;
  /** Items examined before a page with nothing in it gives up (`partial`). Default 5,000. */
  maxExamined?: number;
}

export interface MergedPage<T> {
  items: T[];
  cursor?: string;
  /** True when the page stopped at `maxExamined` before finding anything; follow the cursor. */
  partial?: boolean;
  /** Index entries read (for benchmarks and tests). */
  examined: number;
}

/** Upper sentinel of an order key: every key is printable ASCII below `~`. */
const TOP = '~';
const keyAttributes = (index: IndexName) => {
  const gsi = tableDefinition.globalSecondaryIndexes.find((g) => g.indexName === index)!;
  return { pk: gsi.partitionKey, sk: gsi.sortKey };
};

interface SourceState {
  source: MergeSource;
  prefix: string;
  buffer: Array<{ key: string; raw: Record<string, unknown> }>;
  next: Record<string, unknown> | undefined;
  done: boolean;
  pageSize: number;
}

/** Reads one page of the merged sources; see the module comment. */
export async function mergedQuery<T>(q: MergedQuery<T>): Promise<MergedPage<T>> {
  const scope = scopeOf(q);
  const after = decodeMergeCursor(q.cursor, scope);
  let lo = q.from;
  let hi = q.to;
  if (after !== undefined) {
    if (q.descending) hi = hi === undefined || after < hi ? after : hi;
    else lo = lo === undefined || after > lo ? after : lo;
  }
  const out: T[] = [];
  if (lo !== undefined && hi !== undefined && lo > hi) return { items: out, examined: 0 };
  const initial = Math.min(100, Math.max(2, Math.ceil(q.limit / q.sources.length) + 1));
  const states: SourceState[] = q.sources.map((source) => ({
    source,
    prefix: source.prefix ?? '',
    buffer: [],
    next: undefined,
    done: false,
    pageSize: initial,
  }));

  const fetch = async (s: SourceState) => {
    const attrs = keyAttributes(s.source.index);
    const from = max(lo, s.source.from);
    const to = min(hi, s.source.to);
    if (from !== undefined && to !== undefined && from > to) {
      s.done = true;
      return;
    }
    const low = s.prefix + (from ?? '');
    const high = s.prefix + (to ?? TOP);
    const res = await q.doc.send(
      new QueryCommand({
        TableName: q.tableName,
        IndexName: s.source.index,
        KeyConditionExpression: low ? '#pk = :pk AND #sk BETWEEN :lo AND :hi' : '#pk = :pk AND #sk <= :hi',
        ExpressionAttributeNames: { '#pk': attrs.pk, '#sk': attrs.sk },
        ExpressionAttributeValues: { ':pk': s.source.pk, ':hi': high, ...(low ? { ':lo': low } : {}) },
        ScanIndexForward: !q.descending,
        Limit: s.pageSize,
        ExclusiveStartKey: s.next,
      }),
    );
    for (const raw of res.Items ?? []) {
      s.buffer.push({ key: String(raw[attrs.sk]).slice(s.prefix.length), raw });
    }
    s.next = res.LastEvaluatedKey;
    s.done = s.next === undefined;
    s.pageSize = Math.min(200, s.pageSize * 2);
  };

  const maxExamined = q.maxExamined ?? 5_000;
  let examined = 0;
  let last: string | undefined;
  while (out.length < q.limit) {
    await Promise.all(states.filter((s) => s.buffer.length === 0 && !s.done).map(fetch));
    let best: SourceState | undefined;
    for (const s of states) {
      const head = s.buffer[0];
      if (!head) continue;
      const bestKey = best?.buffer[0]?.key;
      if (bestKey === undefined || (q.descending ? head.key > bestKey : head.key < bestKey)) best = s;
    }
    if (!best) break;
    const { key, raw } = best.buffer.shift()!;
    last = key;
    if (key === after) continue; // the bound is inclusive; the cursor's own item was on the last page
    examined++;
    const item = q.parse(raw, best.source);
    if (!q.filter || q.filter(item)) out.push(item);
    if (examined >= maxExamined) break;
  }
  const more = states.some((s) => s.buffer.length > 0 || !s.done);
  return {
    items: out,
    ...(more && last !== undefined ? { cursor: encodeMergeCursor(last, scope) } : {}),
    ...(more && out.length === 0 ? { partial: true } : {}),
    examined,
  };
}

const max = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined ? a : a > b ? a : b;
const min = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined ? a : a < b ? a : b;

function scopeOf<T>(q: MergedQuery<T>): string {
  const identity = JSON.stringify([
    q.sources.map((s) => [s.index, s.pk, s.prefix ?? '', s.from ?? null, s.to ?? null]),
    q.descending,
    q.from ?? null,
    q.to ?? null,
    q.filterKey ?? null,
  ]);
  return createHash('sha256').update(identity).digest('base64url').slice(0, 16);
}

const cursorSchema = z.object({
  v: z.literal(1),
  s: z.string(),
  a: z.string().regex(/^[\x20-\x7d]{1,300}$/),
});

function encodeMergeCursor(after: string, scope: string): string {
  return Buffer.from(JSON.stringify({ v: 1, s: scope, a: after })).toString('base64url');
}

/**
 * The cursor's position, if it was issued for this very query (same partitions, so same tenant,
 * and same filters); anything else is a 400 `INVALID_CURSOR`.
 */
function decodeMergeCursor(cursor: string | undefined, scope: string): string | undefined {
  if (!cursor) return undefined;
  try {
    const parsed = cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.s === scope) return parsed.a;
  } catch {
    // fall through
  }
  throw new CursorError();
}
