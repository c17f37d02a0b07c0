import { isIP } from 'node:net';

/**
 * SSRF guard for webhook URLs. Partners choose the URL, so an address is refused when it falls in a
 * range that is not the public internet: loopback, private, link-local (instance metadata
 * 169.254.169.254 and fd00:ec2::254), CGNAT, multicast, documentation, reserved, and every IPv6 form
 * that wraps an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo) is unwrapped and
 * checked as IPv4. The deliverer applies it to the address DNS returned, at connect time.
 */

type Range = [base: bigint, prefix: number, label: string];

function v4(a: string): bigint {
  return a.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

const V4_RANGES: Range[] = [
  [v4('0.0.0.0'), 8, 'this-network'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'cgnat'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link-local'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'ietf-protocol'],
  [v4('192.0.2.0'), 24, 'documentation'],
  [v4('192.88.99.0'), 24, '6to4-relay'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'benchmarking'],
  [v4('198.51.100.0'), 24, 'documentation'],
  [v4('203.0.113.0'), 24, 'documentation'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'],
];

/** Parses an IPv6 literal (with `::` and a dotted IPv4 tail) into a 128-bit integer. */
function v6(address: string): bigint {
  let text = address.split('%')[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4(dotted[1]!);
    text = `${text.slice(0, -dotted[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headParts = head ? head.split(':').filter(Boolean) : [];
  const tailParts = tail ? tail.split(':').filter(Boolean) : [];
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  return parts.reduce((acc, p) => (acc << 16n) | BigInt(Number.parseInt(p, 16)), 0n);
}

const V6_RANGES: Range[] = [
  [v6('::'), 128, 'unspecified'],
  [v6('::1'), 128, 'loopback'],
  [v6('100::'), 64, 'discard'],
  [v6('2001:db8::'), 32, 'documentation'],
  [v6('2001:10::'), 28, 'orchid'],
  [v6('2001:20::'), 28, 'orchid'],
  [v6('64:ff9b:1::'), 48, 'nat64-local'],
  [v6('fc00::'), 7, 'unique-local'],
  [v6('fe80::'), 10, 'link-local'],
  [v6('fec0::'), 10, 'site-local'],
  [v6('ff00::'), 8, 'multicast'],
];

function inRange(value: bigint, bits: number, [base, prefix]: Range): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === base >> shift;
}

function checkV4(n: bigint): string | undefined {
  if (n === 0xffffffffn) return 'broadcast';
  return V4_RANGES.find((r) => inRange(n, 32, r))?.[2];
}

/** The IPv4 address an IPv6 address wraps (mapped, compatible, translated, NAT64, 6to4, Teredo), if any. */
function embeddedV4(n: bigint): bigint | undefined {
  if (n >> 32n === 0xffffn) return n & 0xffffffffn; // ::ffff:a.b.c.d
  if (n >> 32n === 0n) return n & 0xffffffffn; // ::a.b.c.d (deprecated IPv4-compatible)
  if (n >> 32n === 0xffff0000n) return n & 0xffffffffn; // ::ffff:0:a.b.c.d (IPv4-translated, SIIT)
  if (n >> 32n === v6('64:ff9b::') >> 32n) return n & 0xffffffffn; // NAT64 well-known prefix
  if (n >> 112n === 0x2002n) return (n >> 80n) & 0xffffffffn; // 6to4
  if (n >> 96n === 0x20010000n) return ~n & 0xffffffffn; // Teredo: client address, inverted
  return undefined;
}

export interface AddressPolicy {
  /** Local stage: loopback is allowed so the sandbox receiver can be reached. */
  allowLoopback: boolean;
}

/**
 * Why `address` (an IP literal) may not be called, e.g. `private` or `link-local`; undefined when it
 * is a public address. Anything that is not an IP literal is refused as `not-an-ip`.
 */
export function blockedReason(address: string, policy: AddressPolicy): string | undefined {
  const family = isIP(address.replace(/^\[|\]$/g, ''));
  const bare = address.replace(/^\[|\]$/g, '');
  let reason: string | undefined;
  if (family === 4) {
    reason = checkV4(v4(bare));
  } else if (family === 6) {
    const n = v6(bare);
    const wrapped = embeddedV4(n);
    if (wrapped !== undefined && n !== 0n && n !== 1n) {
      const inner = checkV4(wrapped);
      reason = inner ? `${inner} (wrapped in IPv6)` : undefined;
      if (!reason && n >> 96n === 0x20010000n) reason = 'teredo';
    } else {
      reason = V6_RANGES.find((r) => inRange(n, 128, r))?.[2];
    }
  } else {
    return 'not-an-ip';
  }
  if (reason && policy.allowLoopback && reason.startsWith('loopback')) return undefined;
  return reason;
}
