import type { Sandbox, SandboxContext } from '../../local/sandboxes/kit.ts';
import type { Clock } from '../../shared/clock.ts';
import { systemClock } from '../../shared/clock.ts';

/**
 * Runs a sandbox in-process for unit tests: a `SandboxContext` with no persistence, and a `fetch`
 * that hands requests under `baseUrl` straight to `sandbox.handle` (no server, no port).
 */
export function sandboxContext(
  name: string,
  options: { clock?: Clock; random?: () => number } = {},
): SandboxContext {
  const runtimeUrl = 'http://sandbox.test';
  return {
    runtimeUrl,
    baseUrl: `${runtimeUrl}/_sandbox/${name}`,
    clock: options.clock ?? systemClock,
    dataDir: undefined,
    random: options.random ?? Math.random,
  };
}

export function sandboxFetch(sandbox: Sandbox<object>): typeof fetch {
  const prefix = new URL(sandbox.ctx.baseUrl).pathname;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (!url.pathname.startsWith(prefix)) return new Response('not this sandbox', { status: 502 });
    const body = Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    const res = await sandbox.handle({
      method: request.method,
      path: url.pathname.slice(prefix.length) || '/',
      query: url.searchParams,
      headers,
      body,
      text: () => body.toString('utf8'),
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
    });
    if (!res) return new Response(JSON.stringify({ message: 'no route' }), { status: 404 });
    const isText = typeof res.body === 'string';
    return new Response(
      res.body === undefined ? null : isText ? (res.body as string) : JSON.stringify(res.body),
      {
        status: res.status,
        headers: { 'content-type': isText ? 'text/plain' : 'application/json', ...(res.headers ?? {}) },
      },
    );
  }) as typeof fetch;
}
