import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sandbox, SandboxContext } from '../../local/sandboxes/kit.ts';
import type { Clock } from '../../shared/clock.ts';

/**
 * Serves sandboxes over real loopback HTTP under `/_sandbox/<name>/…`, as the local runtime mounts
 * them, for tests that exercise partner clients without the whole runtime. Stop it in `afterAll`.
 */
export async function serveSandboxes(
  factories: Record<string, (ctx: SandboxContext) => Sandbox<object>>,
  options: { clock: Clock; random?: () => number },
): Promise<{
  url: string;
  baseUrl(name: string): string;
  get<S extends Sandbox<object>>(name: string): S;
  stop(): Promise<void>;
}> {
  const sandboxes = new Map<string, Sandbox<object>>();
  let url = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const full = new URL(req.url ?? '/', 'http://127.0.0.1');
        const m = /^\/_sandbox\/([^/]+)(\/.*)?$/.exec(full.pathname);
        const sandbox = m ? sandboxes.get(m[1]!) : undefined;
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        const answer = sandbox
          ? await sandbox.handle({
              method: req.method ?? 'GET',
              path: m?.[2] ?? '/',
              query: full.searchParams,
              headers,
              body,
              text: () => body.toString('utf8'),
              json: <T>() => JSON.parse(body.toString('utf8')) as T,
            })
          : undefined;
        if (!answer) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no route"}');
          return;
        }
        const isText = typeof answer.body === 'string';
        res.writeHead(answer.status, {
          'content-type': isText ? 'text/plain' : 'application/json',
          ...(answer.headers ?? {}),
        });
        res.end(
          answer.body === undefined
            ? undefined
            : isText
              ? (answer.body as string)
              : JSON.stringify(answer.body),
        );
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const [name, factory] of Object.entries(factories)) {
    sandboxes.set(
      name,
      factory({
        runtimeUrl: url,
        baseUrl: `${url}/_sandbox/${name}`,
        clock: options.clock,
        dataDir: undefined,
        random: options.random ?? Math.random,
      }),
    );
  }
  return {
    url,
    baseUrl: (name) => `${url}/_sandbox/${name}`,
    get: <S extends Sandbox<object>>(name: string) => sandboxes.get(name) as S,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
