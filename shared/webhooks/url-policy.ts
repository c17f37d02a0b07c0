import { isIP } from 'node:net';
import { type AddressPolicy, blockedReason } from './ssrf.ts';

/**
 * Paths of the local runtime's own controls and AWS emulation. On the local stage loopback is allowed
 * so webhooks reach the sandboxes and test receivers, but never these: a webhook delivery must not run
 * a schedule (`/_local/schedules/usage-billing-daily`), move the clock or talk to the emulated AWS.
 */
const LOCAL_CONTROL_PREFIXES = ['/_local', '/_aws'];

/** Host names that never name a public host (checked after trailing dots are removed). */
const PRIVATE_SUFFIXES = ['.localhost', '.local', '.localdomain', '.internal', '.home.arpa'];

/** The host of a URL without brackets and without trailing dots (`localhost.` is `localhost`). */
export function canonicalHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').replace(/\.+$/, '');
}

/** A loopback host name or literal (`localhost`, `*.localhost`, 127.0.0.0/8, ::1 and its wrappings). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (!isIP(host)) return false;
  return blockedReason(host, { allowLoopback: false })?.startsWith('loopback') === true;
}

/**
 * Whether a path (percent-decoding, case and repeated slashes notwithstanding) names the local
 * runtime's controls. Applied on every stage: deployed stages have no such paths anyway.
 */
export function isLocalControlPath(pathname: string): boolean {
  let path = pathname;
  for (let i = 0; i < 3; i++) {
    try {
      const decoded = decodeURIComponent(path);
      if (decoded === path) break;
      path = decoded;
    } catch {
      break;
    }
  }
  path = path
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/')
    .toLowerCase();
  return LOCAL_CONTROL_PREFIXES.some(
    (p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`),
  );
}

/**
 * Checks a webhook URL, at registration and again before every delivery: absolute http(s); `https`
 * everywhere except plain `http` to a loopback host on the local stage; no credentials, no fragment;
 * no literal address in a blocked range (loopback only on the local stage); outside the local stage a
 * public host name (`localhost.`, `*.internal`, single labels refused); and never a path of the local
 * runtime's controls (`/_local`, `/_aws`). Hostnames are checked again after DNS, at connect time, by
 * the deliverer. Returns the problem, or undefined when acceptable.
 */
export function urlProblem(
  raw: string,
  options: {
    stage: string;
    /** The deliverer: a host name's addresses are checked at connect time (http: loopback only). */
    connectTimeCheck?: boolean;
  },
): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  const local = options.stage === 'local';
  const host = canonicalHost(url);
  const policy: AddressPolicy = { allowLoopback: local };
  const addressReason = isIP(host) ? blockedReason(host, policy) : undefined;
  if (addressReason) return `points at a ${addressReason} address, which webhooks may not call`;
  if (url.protocol !== 'https:') {
    if (!(local && url.protocol === 'http:')) return local ? 'must use http or https' : 'must use https';
    if (!isLoopbackHost(host) && !(options.connectTimeCheck && !isIP(host)))
      return 'must use https (plain http is allowed only to loopback, locally)';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash) return 'must not contain a fragment';
  if (!host) return 'must name a host';
  if (
    !isIP(host) &&
    !local &&
    (host === 'localhost' || !host.includes('.') || PRIVATE_SUFFIXES.some((s) => host.endsWith(s)))
  ) {
    return 'must name a public host';
  }
  if (isLocalControlPath(url.pathname))
    return 'must not point at the local runtime’s controls (/_local, /_aws)';
  return undefined;
}
