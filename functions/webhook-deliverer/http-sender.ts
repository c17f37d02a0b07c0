import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { traced } from '../../shared/telemetry.ts';
import { blockedReason } from '../../shared/webhooks/ssrf.ts';
import { urlProblem } from '../../shared/webhooks/url-policy.ts';

/**
 * Sends one webhook request with `node:http`/`node:https`: 15 s for the whole exchange, redirects not
 * followed (a 3xx is an answer like any other), the first 4 KB of the body kept, and the SSRF guard
 * applied to the address DNS returned, inside the socket's `lookup`, so DNS rebinding between a check
 * and the connection is impossible. Literal IP hosts (which skip `lookup`) are checked up front, and
 * the whole registration policy (`urlProblem`: scheme, host, never the local runtime's `/_local` or
 * `/_aws`) is applied again before every attempt, so an endpoint stored before a rule existed cannot
 * use it. Plain `http` (local stage only) must resolve to loopback.
 */
export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface SendResult {
  kind: 'response' | 'timeout' | 'network' | 'blocked';
  statusCode?: number;
  durationMs: number;
  error?: string;
  responseBody?: string;
  retryAfter?: string;
}

export type Sender = (req: SendRequest) => Promise<SendResult>;

/** DNS resolution (injectable: tests map hostnames to chosen addresses). */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export const REQUEST_TIMEOUT_MS = 15_000;
export const MAX_RESPONSE_BYTES = 4096;

class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';
}

export function createSender(options: {
  stage: string;
  resolver?: Resolver;
  timeoutMs?: number;
  now?: () => number;
}): Sender {
  const policy = { allowLoopback: options.stage === 'local' };
  const resolver = options.resolver ?? systemResolver;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const now = options.now ?? Date.now;

  const lookupFor =
    (scheme: 'http:' | 'https:'): LookupFunction =>
    (hostname, lookupOptions, callback) => {
      resolver(hostname).then(
        (all) => {
          const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
          const addresses = all.filter((a) => !family || a.family === family);
          const bad = addresses.map((a) => [a, blockedReason(a.address, policy)] as const).find(([, r]) => r);
          const publicOverHttp =
            scheme === 'http:' &&
            addresses.find(
              (a) => !blockedReason(a.address, { allowLoopback: false })?.startsWith('loopback'),
            );
          if (publicOverHttp) {
            callback(
              new BlockedAddressError(
                `${hostname} is not a loopback host; plain http is allowed only to loopback`,
              ),
              '',
              0,
            );
          } else if (bad) {
            callback(
              new BlockedAddressError(
                `${hostname} resolves to a ${bad[1]} address, which webhooks may not call`,
              ),
              '',
              0,
            );
          } else if (addresses.length === 0) {
            callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
          } else if (lookupOptions.all) {
            (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses);
          } else {
            callback(null, addresses[0]!.address, addresses[0]!.family);
          }
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 0),
      );
    };

  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 50 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 50 }),
  };

  // One trace subsegment per attempt, unnamed by URL (webhook URLs can carry the partner's tokens).
  return (req) => traced('webhook attempt', () => attempt(req));

  function attempt(req: Parameters<Sender>[0]): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      const started = now();
      const done = (r: Omit<SendResult, 'durationMs'>) =>
        resolve({ ...r, durationMs: Math.max(0, now() - started) });
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        return done({ kind: 'network', error: 'invalid URL' });
      }
      const scheme = url.protocol as 'http:' | 'https:';
      if (scheme !== 'https:' && !(policy.allowLoopback && scheme === 'http:')) {
        return done({ kind: 'blocked', error: `${url.protocol} is not allowed; use https` });
      }
      const problem = urlProblem(req.url, { stage: options.stage, connectTimeCheck: true });
      if (problem) return done({ kind: 'blocked', error: `the URL ${problem}` });
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) {
        const reason = blockedReason(host, policy);
        if (reason) return done({ kind: 'blocked', error: `${host} is a ${reason} address` });
      }
      const client = scheme === 'https:' ? https : http;
      let settled = false;
      const request = client.request(
        url,
        {
          method: 'POST',
          headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
          agent: agents[scheme],
          lookup: lookupFor(scheme),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const finish = () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            const retryAfter = res.headers['retry-after'];
            done({
              kind: 'response',
              statusCode: res.statusCode ?? 0,
              responseBody: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8'),
              ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
            });
          };
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
            size += chunk.length;
            if (size >= MAX_RESPONSE_BYTES) {
              finish();
              res.destroy();
            }
          });
          res.on('end', finish);
          res.on('error', finish);
          res.on('close', finish);
        },
      );
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        request.destroy();
        done({ kind: 'timeout', error: `no complete answer within ${timeoutMs} ms` });
      }, timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error instanceof BlockedAddressError || error.code === 'EBLOCKED') {
          done({ kind: 'blocked', error: error.message });
        } else {
          done({ kind: 'network', error: `${error.code ?? error.name}: ${error.message}`.slice(0, 500) });
        }
      });
      request.end(req.body);
    });
  }
}
