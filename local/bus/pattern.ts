import { isIP } from 'node:net';

/**
 * EventBridge event pattern matching for the local bus, following the documented semantics
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and the content
 * filtering page). A pattern mirrors the event's structure: objects descend into the event, arrays
 * are leaves holding alternatives (OR), sibling fields are ANDed, `$or` ORs whole sub-patterns.
 *
 * Semantics that are easy to get wrong, and what this module does (as EventBridge does):
 * - an event value that is an array matches when ANY of its elements matches;
 * - an empty array, a missing field, or an object where the pattern expects a leaf all count as "no
 *   value": only `{"exists": false}` matches them (`anything-but` needs a value to compare);
 * - `null` is a value (`[null]` and `{"exists": true}` match it) and is not the empty string;
 * - numbers and strings never match each other (`["5"]` does not match `5`);
 * - when the event holds an array of objects, one element must satisfy the whole sub-pattern.
 */

export type Pattern = { [field: string]: unknown };

/** Raised by `validatePattern` with the JSON path of the offending part. */
export class InvalidPatternError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`invalid event pattern at ${path || '<root>'}: ${reason}`);
    this.name = 'InvalidPatternError';
  }
}

type Scalar = string | number | boolean | null;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isScalar = (v: unknown): v is Scalar =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v));

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

/**
 * Throws `InvalidPatternError` naming the path and the problem when `pattern` is not a pattern
 * EventBridge would accept (non-array leaf, empty array or object, unknown operator, malformed
 * numeric range, bad CIDR, `**` in a wildcard…). Run it once per rule at start-up.
 */
export function validatePattern(pattern: unknown): void {
  if (!isPlainObject(pattern)) throw new InvalidPatternError('', 'a pattern must be a JSON object');
  validateObject(pattern, '');
}

function validateObject(node: Record<string, unknown>, path: string): void {
  const keys = Object.keys(node);
  if (keys.length === 0) throw new InvalidPatternError(path, 'empty objects are not allowed');
  for (const key of keys) {
    const value = node[key];
    const here = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) {
        throw new InvalidPatternError(here, '$or takes an array of at least two sub-patterns');
      }
      value.forEach((sub, i) => {
        if (!isPlainObject(sub))
          throw new InvalidPatternError(`${here}[${i}]`, '$or entries must be objects');
        validateObject(sub, `${here}[${i}]`);
      });
    } else if (Array.isArray(value)) {
      if (value.length === 0)
        throw new InvalidPatternError(here, 'empty arrays are not allowed (they match nothing)');
      for (const [i, matcher] of value.entries()) validateMatcher(matcher, `${here}[${i}]`);
    } else if (isPlainObject(value)) {
      validateObject(value, here);
    } else {
      throw new InvalidPatternError(
        here,
        `a leaf must be an array of values or operators, got ${JSON.stringify(value)} (write [${JSON.stringify(value)}])`,
      );
    }
  }
}

function singleKey(matcher: Record<string, unknown>, path: string): [string, unknown] {
  const entries = Object.entries(matcher);
  if (entries.length !== 1) {
    throw new InvalidPatternError(
      path,
      `an operator object must have exactly one key, got ${entries.length}`,
    );
  }
  return entries[0]!;
}

function requireString(value: unknown, path: string, what: string): string {
  if (typeof value !== 'string') throw new InvalidPatternError(path, `${what} takes a string`);
  return value;
}

/** `"x"` or `{"equals-ignore-case": "x"}` — the forms `prefix` and `suffix` accept. */
function validateAffix(value: unknown, path: string, op: string): void {
  if (typeof value === 'string') return;
  if (isPlainObject(value)) {
    const [k, v] = singleKey(value, path);
    if (k === 'equals-ignore-case') return void requireString(v, path, `${op}.equals-ignore-case`);
  }
  throw new InvalidPatternError(path, `${op} takes a string or {"equals-ignore-case": string}`);
}

function validateWildcard(value: unknown, path: string): void {
  const w = requireString(value, path, 'wildcard');
  if (/(^|[^\\])\*\*/.test(w)) throw new InvalidPatternError(path, 'wildcard cannot contain consecutive *');
  if (/\\(?![*\\])/.test(w)) throw new InvalidPatternError(path, 'wildcard may only escape * and \\');
}

function validateMatcher(matcher: unknown, path: string): void {
  if (isScalar(matcher)) return;
  if (!isPlainObject(matcher)) {
    throw new InvalidPatternError(
      path,
      `unsupported value ${JSON.stringify(matcher)} (nested arrays are not allowed)`,
    );
  }
  const [op, value] = singleKey(matcher, path);
  switch (op) {
    case 'prefix':
    case 'suffix':
      validateAffix(value, path, op);
      return;
    case 'equals-ignore-case':
      requireString(value, path, op);
      return;
    case 'wildcard':
      validateWildcard(value, path);
      return;
    case 'exists':
      if (typeof value !== 'boolean') throw new InvalidPatternError(path, 'exists takes true or false');
      return;
    case 'cidr':
      if (!parseCidr(requireString(value, path, 'cidr'))) {
        throw new InvalidPatternError(
          path,
          `cidr ${JSON.stringify(value)} is not an IPv4 or IPv6 CIDR block`,
        );
      }
      return;
    case 'numeric':
      validateNumeric(value, path);
      return;
    case 'anything-but':
      validateAnythingBut(value, path);
      return;
    default:
      throw new InvalidPatternError(path, `unknown operator ${JSON.stringify(op)}`);
  }
}

function validateNumeric(value: unknown, path: string): void {
  if (!Array.isArray(value) || (value.length !== 2 && value.length !== 4)) {
    throw new InvalidPatternError(path, 'numeric takes [op, n] or [op, n, op, n], e.g. [">", 0, "<=", 5]');
  }
  for (let i = 0; i < value.length; i += 2) {
    const op = value[i];
    const n = value[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPERATORS.has(op)) {
      throw new InvalidPatternError(path, `numeric operator ${JSON.stringify(op)} is not one of = < <= > >=`);
    }
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new InvalidPatternError(path, `numeric operand ${JSON.stringify(n)} is not a number`);
    }
  }
  if (value.length === 4) {
    const [a, , b] = value as [string, number, string, number];
    const lower = (o: string) => o === '>' || o === '>=';
    const upper = (o: string) => o === '<' || o === '<=';
    if (!((lower(a) && upper(b)) || (upper(a) && lower(b)))) {
      throw new InvalidPatternError(
        path,
        'a numeric range needs one lower (> >=) and one upper (< <=) bound',
      );
    }
  }
}

function validateAnythingBut(value: unknown, path: string): void {
  if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) return;
  if (Array.isArray(value)) {
    const allStrings = value.every((v) => typeof v === 'string');
    const allNumbers = value.every((v) => typeof v === 'number' && Number.isFinite(v));
    if (value.length === 0 || !(allStrings || allNumbers)) {
      throw new InvalidPatternError(
        path,
        'anything-but takes a non-empty list of only strings or only numbers',
      );
    }
    return;
  }
  if (isPlainObject(value)) {
    const [op, inner] = singleKey(value, path);
    if (op === 'prefix' || op === 'suffix') return void requireString(inner, path, `anything-but.${op}`);
    if (op === 'equals-ignore-case' || op === 'wildcard') {
      const list = Array.isArray(inner) ? inner : [inner];
      if (list.length === 0) throw new InvalidPatternError(path, `anything-but.${op} list is empty`);
      for (const item of list) {
        if (op === 'wildcard') validateWildcard(item, path);
        else requireString(item, path, `anything-but.${op}`);
      }
      return;
    }
    throw new InvalidPatternError(path, `anything-but does not support ${JSON.stringify(op)}`);
  }
  throw new InvalidPatternError(path, 'anything-but takes a string, a number, a list or {prefix|suffix|…}');
}

/**
 * True when `event` (a parsed EventBridge envelope, or any JSON object) matches `pattern`. Assumes
 * a valid pattern (see `validatePattern`); an unknown operator simply does not match.
 */
export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: Record<string, unknown>, value: unknown): boolean {
  const fields = isPlainObject(value) ? value : undefined;
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub) || !sub.some((alt) => isPlainObject(alt) && matchObject(alt, value)))
        return false;
      continue;
    }
    const child = fields && Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (Array.isArray(sub)) {
      if (!matchLeaf(sub, leafValues(child))) return false;
    } else if (isPlainObject(sub)) {
      // An array of objects matches when one element satisfies the whole sub-pattern; a missing or
      // scalar child is descended into as "no fields" so nested `exists: false` still works.
      const ok = Array.isArray(child)
        ? child.some((el) => isPlainObject(el) && matchObject(sub, el)) ||
          (!child.some(isPlainObject) && matchObject(sub, undefined))
        : matchObject(sub, child);
      if (!ok) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** The scalar values an event field holds: arrays are flattened, objects are not leaves. */
function leafValues(value: unknown): Scalar[] {
  if (value === undefined) return [];
  if (Array.isArray(value))
    return value.flatMap((v) => (Array.isArray(v) ? leafValues(v) : isScalar(v) ? [v] : []));
  return isScalar(value) ? [value] : [];
}

function matchLeaf(matchers: unknown[], values: Scalar[]): boolean {
  return matchers.some((m) => {
    if (isPlainObject(m) && 'exists' in m) return m.exists === true ? values.length > 0 : values.length === 0;
    return values.some((v) => matchValue(m, v));
  });
}

function matchValue(matcher: unknown, value: Scalar): boolean {
  if (!isPlainObject(matcher)) return matcher === value;
  const [op, arg] = Object.entries(matcher)[0] ?? [];
  const str = typeof value === 'string' ? value : undefined;
  switch (op) {
    case 'prefix':
      return str !== undefined && affix(arg, str, (s, a) => s.startsWith(a));
    case 'suffix':
      return str !== undefined && affix(arg, str, (s, a) => s.endsWith(a));
    case 'equals-ignore-case':
      return str !== undefined && typeof arg === 'string' && fold(str) === fold(arg);
    case 'wildcard':
      return str !== undefined && typeof arg === 'string' && wildcardRegExp(arg).test(str);
    case 'numeric':
      return typeof value === 'number' && Array.isArray(arg) && matchNumeric(arg, value);
    case 'cidr': {
      const block = typeof arg === 'string' ? parseCidr(arg) : undefined;
      return str !== undefined && block !== undefined && inCidr(block, str);
    }
    case 'anything-but':
      return matchAnythingBut(arg, value);
    default:
      return false;
  }
}

const fold = (s: string) => s.toLowerCase();

function affix(arg: unknown, value: string, test: (s: string, a: string) => boolean): boolean {
  if (typeof arg === 'string') return test(value, arg);
  if (isPlainObject(arg) && typeof arg['equals-ignore-case'] === 'string') {
    return test(fold(value), fold(arg['equals-ignore-case']));
  }
  return false;
}

function matchNumeric(ops: unknown[], value: number): boolean {
  for (let i = 0; i + 1 < ops.length; i += 2) {
    const n = ops[i + 1] as number;
    const ok =
      ops[i] === '='
        ? value === n
        : ops[i] === '<'
          ? value < n
          : ops[i] === '<='
            ? value <= n
            : ops[i] === '>'
              ? value > n
              : ops[i] === '>='
                ? value >= n
                : false;
    if (!ok) return false;
  }
  return true;
}

function matchAnythingBut(arg: unknown, value: Scalar): boolean {
  if (Array.isArray(arg)) return !arg.some((a) => a === value);
  if (!isPlainObject(arg)) return arg !== value;
  const [op, inner] = Object.entries(arg)[0] ?? [];
  // The string forms only say something about strings; a number is never "a string not starting
  // with x" (EventBridge ignores non-string values for these).
  if (typeof value !== 'string') return false;
  const list = Array.isArray(inner) ? inner : [inner];
  switch (op) {
    case 'prefix':
      return typeof inner === 'string' && !value.startsWith(inner);
    case 'suffix':
      return typeof inner === 'string' && !value.endsWith(inner);
    case 'equals-ignore-case':
      return !list.some((a) => typeof a === 'string' && fold(a) === fold(value));
    case 'wildcard':
      return !list.some((a) => typeof a === 'string' && wildcardRegExp(a).test(value));
    default:
      return false;
  }
}

const wildcardCache = new Map<string, RegExp>();

/** `*` matches any run of characters; `\*` and `\\` are literal. The whole value must match. */
function wildcardRegExp(wildcard: string): RegExp {
  let re = wildcardCache.get(wildcard);
  if (!re) {
    let source = '';
    for (let i = 0; i < wildcard.length; i++) {
      const c = wildcard[i]!;
      if (c === '\\' && i + 1 < wildcard.length) source += escapeRegExp(wildcard[++i]!);
      else if (c === '*') source += '[\\s\\S]*';
      else source += escapeRegExp(c);
    }
    re = new RegExp(`^${source}$`);
    wildcardCache.set(wildcard, re);
  }
  return re;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

interface CidrBlock {
  family: 4 | 6;
  network: bigint;
  bits: number;
}

function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  const family = isIP(address);
  if ((family !== 4 && family !== 6) || !/^\d{1,3}$/.test(prefix)) return undefined;
  const bits = Number(prefix);
  const width = family === 4 ? 32 : 128;
  if (bits > width) return undefined;
  const ip = ipToBigInt(address, family);
  return { family, bits, network: ip >> BigInt(width - bits) };
}

function inCidr(block: CidrBlock, address: string): boolean {
  const family = isIP(address);
  if (family !== block.family) return false;
  const width = family === 4 ? 32 : 128;
  return ipToBigInt(address, family) >> BigInt(width - block.bits) === block.network;
}

function ipToBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, part) => (acc << 8n) + BigInt(Number(part)), 0n);
  let text = address;
  // An IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBigInt(v4[1]!, 4);
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(missing).fill('0'), ...tailParts];
  return parts.reduce((acc, part) => (acc << 16n) + BigInt(Number.parseInt(part || '0', 16)), 0n);
}
