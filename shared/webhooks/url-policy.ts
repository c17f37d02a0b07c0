import { isIP } from 'node:net';
import { type AddressPolicy, blockedReason } from './ssrf.ts';

/**
 * Checks a webhook URL at registration: absolute http(s), `https` outside the local stage, no
 * credentials in it, and no literal address in a blocked range. Hostnames are checked again after
 * DNS, at connect time, by the deliverer. Returns the problem, or undefined when acceptable.
 */
export function urlProblem(raw: string, options: { stage: string }): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  const local = options.stage === 'local';
  if (url.protocol !== 'https:' && !(local && url.protocol === 'http:')) {
    return local ? 'must use http or https' : 'must use https';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash) return 'must not contain a fragment';
  const policy: AddressPolicy = { allowLoopback: local };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const reason = blockedReason(host, policy);
    if (reason) return `points at a ${reason} address, which webhooks may not call`;
  } else if (!local && (host === 'localhost' || host.endsWith('.localhost') || !host.includes('.'))) {
    return 'must name a public host';
  }
  return undefined;
}
