/**
 * Key-building helpers shared by every entity. Each entity module owns its own key builders
 * (`orderKey(tenant, id)`), built from these so separators and escaping are uniform.
 */
export const SEP = '#';

/** Joins key parts; parts must not contain the separator (ids are ULIDs or validated codes). */
export function key(...parts: Array<string | number>): string {
  return parts.map(String).join(SEP);
}

/**
 * Spreads a hot partition over `shards` keys (DynamoDB: ~1,000 writes/s per partition key).
 * Deterministic in `discriminator`, so a writer and a reader agree on the shard of one item.
 */
export function shardOf(discriminator: string, shards: number): number {
  let h = 2166136261;
  for (let i = 0; i < discriminator.length; i++) {
    h ^= discriminator.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % shards;
}
