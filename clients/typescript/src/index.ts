import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.d.ts';
import type { TokenSource } from './token.ts';

export { type Grant, TokenError, type TokenSource, type TokenSourceOptions, tokenSource } from './token.ts';
export type { components, operations, paths };

export type SwitchboardClient = Client<paths>;

/**
 * A typed client of the Switchboard API (openapi-fetch over the generated `paths`): every path,
 * parameter, body and response is checked at compile time against the hub's OpenAPI document. With
 * `tokens`, each request carries `Authorization: Bearer <token>`.
 */
export function switchboardClient(
  options: ClientOptions & { baseUrl: string; tokens?: TokenSource },
): SwitchboardClient {
  const { tokens, ...rest } = options;
  const client = createClient<paths>(rest);
  if (tokens)
    client.use({
      async onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${await tokens.token()}`);
        return request;
      },
    });
  return client;
}
