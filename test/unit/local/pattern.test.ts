import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidPatternError,
  matchesPattern,
  type Pattern,
  validatePattern,
} from '../../../local/bus/pattern.ts';

// Cases follow the examples of the EventBridge user guide (event patterns, content filtering, null
// values and empty strings, arrays); each operator has matching and non-matching events.

const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

const complex: Pattern = {
  time: [{ prefix: '2017-10-02' }],
  detail: {
    state: [{ 'anything-but': 'initializing' }],
    'c-count': [{ numeric: ['>', 0, '<=', 5] }],
    'd-count': [{ numeric: ['<', 10] }],
    'x-limit': [{ 'anything-but': [100, 200, 300] }],
  },
};

type Case = [name: string, pattern: Pattern, event: unknown, expected: boolean];

const d = (detail: Record<string, unknown>) => ({ ...ec2Event, detail });

const cases: Case[] = [
  // exact values and structure
  ['exact source', { source: ['aws.ec2'] }, ec2Event, true],
  ['exact source, other value', { source: ['aws.s3'] }, ec2Event, false],
  ['one of several values', { detail: { state: ['running', 'terminated'] } }, ec2Event, true],
  ['fields are ANDed', { source: ['aws.ec2'], detail: { state: ['running'] } }, ec2Event, false],
  ['case sensitive', { source: ['AWS.EC2'] }, ec2Event, false],
  ['missing field never matches a value', { detail: { missing: ['x'] } }, ec2Event, false],
  ['nested fields', { detail: { a: { b: { c: ['deep'] } } } }, d({ a: { b: { c: 'deep' } } }), true],
  [
    'nested fields, other value',
    { detail: { a: { b: { c: ['deep'] } } } },
    d({ a: { b: { c: 'x' } } }),
    false,
  ],
  ['nested pattern on a scalar', { detail: { state: { x: ['y'] } } }, ec2Event, false],
  ['number', { detail: { n: [5] } }, d({ n: 5 }), true],
  ['number equals float form', { detail: { n: [5] } }, d({ n: 5.0 }), true],
  ['number never equals its string', { detail: { n: ['5'] } }, d({ n: 5 }), false],
  ['string never equals its number', { detail: { n: [5] } }, d({ n: '5' }), false],
  ['boolean', { detail: { ok: [true] } }, d({ ok: true }), true],
  ['boolean, other value', { detail: { ok: [true] } }, d({ ok: false }), false],
  ['null', { detail: { r: [null] } }, d({ r: null }), true],
  ['null is not the empty string', { detail: { r: [''] } }, d({ r: null }), false],
  ['empty string', { detail: { v: [''] } }, d({ v: '' }), true],
  ['empty string is not null', { detail: { v: [null] } }, d({ v: '' }), false],
  ['null does not match a missing field', { detail: { r: [null] } }, d({}), false],
  // arrays in the event
  [
    'array: any element matches',
    { resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'] },
    ec2Event,
    true,
  ],
  ['array: intersection', { detail: { tags: ['b', 'z'] } }, d({ tags: ['a', 'b', 'c'] }), true],
  ['array: no intersection', { detail: { tags: ['z'] } }, d({ tags: ['a', 'b'] }), false],
  [
    'array of objects: one element holds all fields',
    { detail: { items: { sku: ['A'], qty: [2] } } },
    d({
      items: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 2 },
      ],
    }),
    false,
  ],
  [
    'array of objects: matching element',
    { detail: { items: { sku: ['B'], qty: [2] } } },
    d({
      items: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 2 },
      ],
    }),
    true,
  ],
  ['empty array matches no value', { detail: { tags: ['a'] } }, d({ tags: [] }), false],
  // prefix / suffix / equals-ignore-case / wildcard
  ['prefix', { time: [{ prefix: '2017-12-22' }] }, ec2Event, true],
  ['prefix, no match', { time: [{ prefix: '2017-10-02' }] }, ec2Event, false],
  ['prefix ignores numbers', { detail: { n: [{ prefix: '1' }] } }, d({ n: 12 }), false],
  [
    'prefix ignore case',
    { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    d({ service: 'eventbridge' }),
    true,
  ],
  [
    'prefix ignore case, no match',
    { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    d({ service: 'sqs' }),
    false,
  ],
  ['suffix', { detail: { FileName: [{ suffix: '.png' }] } }, d({ FileName: 'image.png' }), true],
  [
    'suffix is case sensitive',
    { detail: { FileName: [{ suffix: '.png' }] } },
    d({ FileName: 'image.PNG' }),
    false,
  ],
  [
    'suffix ignore case',
    { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
    d({ FileName: 'image.PNG' }),
    true,
  ],
  [
    'equals-ignore-case',
    { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] },
    ec2Event,
    true,
  ],
  [
    'equals-ignore-case, no match',
    { detail: { state: [{ 'equals-ignore-case': 'running' }] } },
    ec2Event,
    false,
  ],
  ['wildcard', { detail: { path: [{ wildcard: 'dir/*.png' }] } }, d({ path: 'dir/a/b.png' }), true],
  [
    'wildcard needs the whole value',
    { detail: { path: [{ wildcard: 'dir/*.png' }] } },
    d({ path: 'dir/a.png.bak' }),
    false,
  ],
  [
    'wildcard with two stars',
    { detail: { eventSourceArn: [{ wildcard: 'arn:aws:s3:::bucket/*/*.png' }] } },
    d({ eventSourceArn: 'arn:aws:s3:::bucket/x/y.png' }),
    true,
  ],
  ['wildcard escaped star is literal', { detail: { v: [{ wildcard: 'a\\*b' }] } }, d({ v: 'a*b' }), true],
  ['wildcard escaped star, no match', { detail: { v: [{ wildcard: 'a\\*b' }] } }, d({ v: 'axb' }), false],
  // anything-but
  ['anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2Event, true],
  [
    'anything-but string, excluded',
    { detail: { state: [{ 'anything-but': 'terminated' }] } },
    ec2Event,
    false,
  ],
  ['anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, d({ 'x-limit': 456 }), true],
  [
    'anything-but number, excluded',
    { detail: { 'x-limit': [{ 'anything-but': 123 }] } },
    d({ 'x-limit': 123 }),
    false,
  ],
  [
    'anything-but list',
    { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
    ec2Event,
    true,
  ],
  [
    'anything-but list, excluded',
    { detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } },
    ec2Event,
    false,
  ],
  ['anything-but needs the field', { detail: { missing: [{ 'anything-but': 'x' }] } }, ec2Event, false],
  ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, ec2Event, true],
  [
    'anything-but prefix, excluded',
    { detail: { state: [{ 'anything-but': { prefix: 'term' } }] } },
    ec2Event,
    false,
  ],
  [
    'anything-but suffix',
    { detail: { FileName: [{ 'anything-but': { suffix: '.txt' } }] } },
    d({ FileName: 'a.png' }),
    true,
  ],
  [
    'anything-but suffix, excluded',
    { detail: { FileName: [{ 'anything-but': { suffix: '.png' } }] } },
    d({ FileName: 'a.png' }),
    false,
  ],
  [
    'anything-but ignore case',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['RUNNING'] } }] } },
    ec2Event,
    true,
  ],
  [
    'anything-but ignore case, excluded',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'TERMINATED' } }] } },
    ec2Event,
    false,
  ],
  [
    'anything-but wildcard',
    { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } },
    d({ FilePath: '/usr/bin/x' }),
    true,
  ],
  [
    'anything-but wildcard, excluded',
    { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } },
    d({ FilePath: '/usr/lib/x' }),
    false,
  ],
  // exists
  ['exists true', { detail: { state: [{ exists: true }] } }, ec2Event, true],
  ['exists true, missing', { detail: { nope: [{ exists: true }] } }, ec2Event, false],
  ['exists false, missing', { detail: { nope: [{ exists: false }] } }, ec2Event, true],
  ['exists false, present', { detail: { state: [{ exists: false }] } }, ec2Event, false],
  ['exists false when the parent is missing', { detail: { a: { b: [{ exists: false }] } } }, ec2Event, true],
  ['exists only looks at leaves', { detail: { a: [{ exists: true }] } }, d({ a: { b: 1 } }), false],
  ['exists false on an intermediate node', { detail: { a: [{ exists: false }] } }, d({ a: { b: 1 } }), true],
  ['exists true on null', { detail: { r: [{ exists: true }] } }, d({ r: null }), true],
  ['exists false on an empty array', { detail: { tags: [{ exists: false }] } }, d({ tags: [] }), true],
  ['exists true on an empty array', { detail: { tags: [{ exists: true }] } }, d({ tags: [] }), false],
  // numeric
  ['numeric range', { detail: { c: [{ numeric: ['>', 0, '<=', 5] }] } }, d({ c: 5 }), true],
  [
    'numeric range, lower bound excluded',
    { detail: { c: [{ numeric: ['>', 0, '<=', 5] }] } },
    d({ c: 0 }),
    false,
  ],
  ['numeric range, above', { detail: { c: [{ numeric: ['>', 0, '<=', 5] }] } }, d({ c: 5.01 }), false],
  ['numeric less than', { detail: { c: [{ numeric: ['<', 10] }] } }, d({ c: -3 }), true],
  ['numeric >= ', { detail: { c: [{ numeric: ['>=', 10] }] } }, d({ c: 10 }), true],
  ['numeric =', { detail: { c: [{ numeric: ['=', 3.0e2] }] } }, d({ c: 300 }), true],
  ['numeric =, other', { detail: { c: [{ numeric: ['=', 300] }] } }, d({ c: 301 }), false],
  ['numeric ignores strings', { detail: { c: [{ numeric: ['>', 0] }] } }, d({ c: '5' }), false],
  ['numeric over an array', { detail: { c: [{ numeric: ['>', 100] }] } }, d({ c: [1, 200] }), true],
  // cidr
  ['cidr v4', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, d({ 'source-ip': '10.0.0.255' }), true],
  [
    'cidr v4, outside',
    { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } },
    d({ 'source-ip': '10.0.1.0' }),
    false,
  ],
  ['cidr v6', { detail: { ip: [{ cidr: '2001:db8::/32' }] } }, d({ ip: '2001:db8:1::7' }), true],
  ['cidr v6, outside', { detail: { ip: [{ cidr: '2001:db8::/32' }] } }, d({ ip: '2001:db9::1' }), false],
  ['cidr, not an ip', { detail: { ip: [{ cidr: '10.0.0.0/8' }] } }, d({ ip: 'hello' }), false],
  // $or
  [
    '$or first branch',
    { detail: { $or: [{ c: [{ numeric: ['>', 0, '<=', 5] }] }, { d: [{ numeric: ['<', 10] }] }] } },
    d({ c: 3 }),
    true,
  ],
  [
    '$or second branch',
    { detail: { $or: [{ c: [{ numeric: ['>', 0, '<=', 5] }] }, { d: [{ numeric: ['<', 10] }] }] } },
    d({ c: 30, d: 1 }),
    true,
  ],
  [
    '$or no branch',
    { detail: { $or: [{ c: [{ numeric: ['>', 0, '<=', 5] }] }, { d: [{ numeric: ['<', 10] }] }] } },
    d({ c: 30, d: 30 }),
    false,
  ],
  [
    '$or at the root with siblings',
    { source: ['aws.ec2'], $or: [{ 'detail-type': ['x'] }, { detail: { state: ['terminated'] } }] },
    ec2Event,
    true,
  ],
  [
    '$or at the root, sibling fails',
    { source: ['aws.s3'], $or: [{ 'detail-type': ['x'] }, { detail: { state: ['terminated'] } }] },
    ec2Event,
    false,
  ],
  [
    'exists true on an array value (documented example)',
    { detail: { state: [{ exists: true }] } },
    d({ state: ['initializing', 'running'] }),
    true,
  ],
  [
    'exists true on an object value (documented example)',
    { detail: { 'c-count': [{ exists: true }] } },
    d({ 'c-count': { c1: 100 } }),
    false,
  ],
  // the documented complex example
  [
    'complex example',
    complex,
    {
      time: '2017-10-02T18:43:48Z',
      detail: { state: 'running', 'c-count': 5, 'd-count': 9, 'x-limit': 301 },
    },
    true,
  ],
  [
    'complex example, one field fails',
    complex,
    {
      time: '2017-10-02T18:43:48Z',
      detail: { state: 'running', 'c-count': 5, 'd-count': 9, 'x-limit': 200 },
    },
    false,
  ],
  [
    'complex example, missing field',
    complex,
    { time: '2017-10-02T18:43:48Z', detail: { state: 'running', 'c-count': 5, 'x-limit': 301 } },
    false,
  ],
  // several matchers in one leaf are OR-ed
  ['mixed leaf', { detail: { state: [{ prefix: 'run' }, 'terminated'] } }, ec2Event, true],
  ['mixed leaf with exists false', { detail: { nope: ['x', { exists: false }] } }, ec2Event, true],
];

describe('matchesPattern (EventBridge semantics)', () => {
  it.each(cases)('%s', (_name, pattern, event, expected) => {
    validatePattern(pattern);
    expect(matchesPattern(pattern, event)).toBe(expected);
  });
});

describe('validatePattern', () => {
  const invalid: [string, unknown, RegExp][] = [
    ['not an object', ['aws.ec2'], /must be a JSON object/],
    ['non-array leaf', { source: 'aws.ec2' }, /source: a leaf must be an array.*write \["aws.ec2"\]/],
    ['number leaf', { detail: { n: 5 } }, /detail\.n: a leaf must be an array/],
    ['empty array', { source: [] }, /source: empty arrays/],
    ['empty object', { detail: {} }, /detail: empty objects/],
    ['empty pattern', {}, /<root>: empty objects/],
    ['unknown operator', { source: [{ startsWith: 'x' }] }, /unknown operator "startsWith"/],
    ['two keys in an operator', { source: [{ prefix: 'a', suffix: 'b' }] }, /exactly one key/],
    ['nested array', { source: [['a']] }, /nested arrays/],
    ['exists not boolean', { a: [{ exists: 'yes' }] }, /exists takes true or false/],
    ['numeric odd length', { a: [{ numeric: ['>', 1, '<'] }] }, /numeric takes/],
    ['numeric bad operator', { a: [{ numeric: ['!=', 1] }] }, /not one of/],
    ['numeric operand not number', { a: [{ numeric: ['>', '1'] }] }, /not a number/],
    ['numeric two lower bounds', { a: [{ numeric: ['>', 1, '>=', 2] }] }, /one lower/],
    ['bad cidr', { a: [{ cidr: '10.0.0.0/33' }] }, /not an IPv4 or IPv6 CIDR/],
    ['cidr without prefix length', { a: [{ cidr: '10.0.0.1' }] }, /CIDR/],
    ['prefix not string', { a: [{ prefix: 1 }] }, /prefix takes a string/],
    ['wildcard double star', { a: [{ wildcard: 'a**b' }] }, /consecutive \*/],
    ['anything-but mixed list', { a: [{ 'anything-but': ['a', 1] }] }, /only strings or only numbers/],
    ['anything-but empty list', { a: [{ 'anything-but': [] }] }, /non-empty list/],
    ['anything-but exists', { a: [{ 'anything-but': { exists: true } }] }, /does not support "exists"/],
    ['$or with one branch', { $or: [{ a: ['x'] }] }, /\$or takes an array of at least two/],
    ['$or branch not an object', { $or: [{ a: ['x'] }, ['y']] }, /\$or\[1\]: \$or entries must be objects/],
  ];
  it.each(invalid)('rejects %s', (_name, pattern, message) => {
    expect(() => validatePattern(pattern)).toThrow(InvalidPatternError);
    expect(() => validatePattern(pattern)).toThrow(message);
  });

  it('accepts every documented operator', () => {
    expect(() =>
      validatePattern({
        source: ['a', 1, true, null, { prefix: 'x' }, { suffix: { 'equals-ignore-case': 'Y' } }],
        detail: {
          a: [{ 'anything-but': { prefix: 'p' } }, { 'anything-but': [1, 2] }, { wildcard: 'a*b\\*' }],
          b: [{ numeric: ['>=', 0, '<', 10] }, { numeric: ['=', 5] }, { cidr: '::1/128' }, { exists: false }],
          $or: [{ c: ['1'] }, { d: [{ 'equals-ignore-case': 'x' }] }],
        },
      }),
    ).not.toThrow();
  });
});

describe('matchesPattern properties', () => {
  const scalar = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  );
  const fieldValue = fc.oneof(
    scalar,
    fc.array(scalar, { maxLength: 4 }),
    fc.constant(undefined),
    fc.dictionary(fc.string(), scalar),
  );
  const eventWith = (v: unknown) => (v === undefined ? { detail: {} } : { detail: { f: v } });

  it('exists true and exists false are exact complements', () => {
    fc.assert(
      fc.property(fieldValue, (v) => {
        const event = eventWith(v);
        const yes = matchesPattern({ detail: { f: [{ exists: true }] } }, event);
        const no = matchesPattern({ detail: { f: [{ exists: false }] } }, event);
        return yes !== no;
      }),
    );
  });

  it('on a single string value, anything-but x and [x] are exact complements', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (value, x) => {
        const event = eventWith(value);
        return (
          matchesPattern({ detail: { f: [{ 'anything-but': x }] } }, event) !==
          matchesPattern({ detail: { f: [x] } }, event)
        );
      }),
    );
  });

  it('a value always matches itself, its prefix, its suffix and its upper-cased self ignoring case', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), (value, cut) => {
        const event = eventWith(value);
        const at = value.length === 0 ? 0 : cut % (value.length + 1);
        return (
          matchesPattern({ detail: { f: [value] } }, event) &&
          matchesPattern({ detail: { f: [{ prefix: value.slice(0, at) }] } }, event) &&
          matchesPattern({ detail: { f: [{ suffix: value.slice(at) }] } }, event) &&
          matchesPattern({ detail: { f: [{ 'equals-ignore-case': value.toUpperCase() }] } }, event)
        );
      }),
    );
  });

  it('a leaf with several matchers is the OR of the single-matcher leaves', () => {
    const matcher = fc.oneof(
      scalar,
      fc.record({ prefix: fc.string({ maxLength: 2 }) }),
      fc.record({ numeric: fc.tuple(fc.constantFrom('>', '<=', '='), fc.integer({ min: -5, max: 5 })) }),
      fc.record({ exists: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(matcher, { minLength: 1, maxLength: 4 }), fieldValue, (matchers, v) => {
        const event = eventWith(v);
        const together = matchesPattern({ detail: { f: matchers } }, event);
        const separately = matchers.some((m) => matchesPattern({ detail: { f: [m] } }, event));
        return together === separately;
      }),
    );
  });
});
