import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal values always serialise identically. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // -0 and 0 are the same number for Zuora; JSON already prints both as 0.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * `calculedHash` of a payload item: SHA-256 (128 bits, hex) of the event type and the item's
 * canonical JSON. The type is part of it because a SUBSCRIPTIONISCREATED item and a
 * PRODUCTLISTISMODIFIED item can be byte-identical yet mean different changes.
 */
export function itemHash(typeEvent: string, item: unknown): string {
  return createHash('sha256')
    .update(`${typeEvent}\n${canonicalJson(item)}`)
    .digest('hex')
    .slice(0, 32);
}
