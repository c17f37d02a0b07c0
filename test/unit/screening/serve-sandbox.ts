import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sandbox, SandboxContext } from '../../../local/sandboxes/kit.ts';
import { systemClock } from '../../../shared/clock.ts';

/**
 * Serves one sandbox over real loopback HTTP (as the local runtime mounts it, without the rest of
 * the runtime) so partner clients are tested through fetch, sockets and timeouts.
 */
export async function serveSandbox<S extends Sandbox<object>>(
  name: string,
  create: (ctx: SandboxContext) => S,
): Promise<{ url: string; sandbox: S; close: () => Promise<void> }> {
  let sandbox: S | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const prefix = `/_sandbox/${name}`;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = String(v);
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      const answer = url.pathname.startsWith(prefix)
        ? await sandbox!.handle(
            {
              method: req.method ?? 'GET',
              path: url.pathname.slice(prefix.length) || '/',
              query: url.searchParams,
              headers,
              body,
              text: () => body.toString('utf8'),
              json: <T>() => JSON.parse(body.toString('utf8')) as T,
            },
            abort.signal,
          )
        : undefined;
      if (res.destroyed) return;
      if (!answer) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no route"}');
        return;
      }
      const text =
        answer.body === undefined
          ? ''
          : typeof answer.body === 'string'
            ? answer.body
            : JSON.stringify(answer.body);
      res
        .writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) })
        .end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const runtimeUrl = `http://127.0.0.1:${port}`;
  sandbox = create({
    runtimeUrl,
    baseUrl: `${runtimeUrl}/_sandbox/${name}`,
    clock: systemClock,
    dataDir: undefined,
    random: Math.random,
  });
  return {
    url: `${runtimeUrl}/_sandbox/${name}`,
    sandbox,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
