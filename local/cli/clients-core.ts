import { parseArgs } from 'node:util';
import {
  ClientExistsError,
  type ClientRepository,
  newClientSchema,
  registerClient,
  rotateClientSecret,
  rotateUserPassword,
} from '../../shared/auth/clients.ts';
import type { Clock } from '../../shared/clock.ts';
import { grantTypes, scopes } from '../../shared/contracts/oauth.ts';
import { zodDetails } from '../../shared/errors.ts';

export const CLIENTS_USAGE = `Usage: npm run clients -- <command> [options]

  add --tenant <tenant> --scopes "<scope> <scope>…" [--grant client_credentials|password …]
      [--username <user>] [--name <label>] [--client-id <id>]
                    create a client; prints its secret (and the user's password) ONCE
  list [--tenant <tenant>]
                    id, tenant, scopes, grants, created (never secrets)
  remove <clientId> delete a client (its tokens stay valid until they expire)
  rotate <clientId> [--username <user>]
                    give a client a new secret (or that user a new password); prints it ONCE,
                    the old one stops working at once

  Common: --table <name> (or TABLE_NAME) targets that table in AWS with the default credentials;
          otherwise the local suite's table (SWITCHBOARD_DATA_DIR, default .switchboard).
Scopes: ${scopes.join(' ')}
Grants: ${grantTypes.join(' ')}`;

export interface ClientsCliDeps {
  clients: Pick<ClientRepository, 'add' | 'list' | 'remove' | 'rotate' | 'setUserPassword'>;
  clock: Clock;
  out(line: string): void;
  err(line: string): void;
  /** After a rotation (the local CLI keeps `dev-clients.json` in step with it). */
  rotated?(clientId: string, change: { clientSecret?: string; username?: string; password?: string }): void;
}

/** Space- or comma-separated lists, possibly given as repeated options. */
const splitList = (values: string[] | undefined) =>
  (values ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);

/**
 * `npm run clients` without the process around it: parses `argv` (after the script name), runs the
 * command against `deps.clients` and returns the exit code. Secrets appear in `out` only for `add`
 * and `rotate`, once.
 */
export async function runClientsCli(argv: string[], deps: ClientsCliDeps): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    deps.err(`${(error as Error).message}\n\n${CLIENTS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help) {
    deps.out(CLIENTS_USAGE);
    return 0;
  }
  switch (command) {
    case 'add': {
      const input = {
        tenant: values.tenant,
        scopes: splitList(values.scopes),
        grantTypes: values.grant ? splitList(values.grant) : undefined,
        ...(values.name ? { name: values.name } : {}),
        ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
        ...(values.username ? { username: values.username } : {}),
      };
      const checked = newClientSchema.safeParse(input);
      if (!checked.success) {
        for (const d of zodDetails(checked.error.issues)) deps.err(`--${optionName(d.field)}: ${d.message}`);
        return 2;
      }
      try {
        const created = await registerClient(checked.data, { clients: deps.clients, now: deps.clock.now() });
        deps.out(`client_id:     ${created.client.clientId}`);
        deps.out(`tenant:        ${created.client.tenant}`);
        deps.out(`grants:        ${created.client.grantTypes.join(' ')}`);
        deps.out(`scopes:        ${created.client.scopes.join(' ')}`);
        deps.out(`client_secret: ${created.clientSecret}`);
        if (created.password) {
          deps.out(`username:      ${created.client.users?.[0]?.username}`);
          deps.out(`password:      ${created.password}`);
        }
        deps.out('Store the secret now: it is kept only as a hash and cannot be shown again.');
        return 0;
      } catch (error) {
        if (error instanceof ClientExistsError) {
          deps.err(`A client ${error.clientId} already exists.`);
          return 1;
        }
        throw error;
      }
    }
    case 'list': {
      const clients = await deps.clients.list(values.tenant);
      if (clients.length === 0) {
        deps.out('No clients.');
        return 0;
      }
      const rows = clients.map((c) => [
        c.clientId,
        c.tenant,
        c.scopes.join(' '),
        c.grantTypes.join(' '),
        c.createdAt,
        c.users?.length ? c.users.map((u) => u.username).join(' ') : '',
      ]);
      const header = ['CLIENT ID', 'TENANT', 'SCOPES', 'GRANTS', 'CREATED', 'USERS'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const row of [header, ...rows]) {
        deps.out(
          row
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
      }
      return 0;
    }
    case 'remove':
    case 'rotate': {
      const clientId = rest[0];
      if (!clientId || rest.length > 1) {
        deps.err(`${command} takes exactly one client id.\n\n${CLIENTS_USAGE}`);
        return 2;
      }
      if (command === 'remove') {
        if (!(await deps.clients.remove(clientId))) {
          deps.err(`No client ${clientId}.`);
          return 1;
        }
        deps.out(`Removed ${clientId}. Tokens already issued stay valid until they expire.`);
        return 0;
      }
      if (values.username) {
        const password = await rotateUserPassword(clientId, values.username, {
          clients: deps.clients,
          now: deps.clock.now(),
        });
        if (!password) {
          deps.err(`No user ${values.username} on client ${clientId}.`);
          return 1;
        }
        deps.rotated?.(clientId, { username: values.username, password });
        deps.out(`client_id:     ${clientId}`);
        deps.out(`username:      ${values.username}`);
        deps.out(`password:      ${password}`);
        deps.out('The previous password no longer works. Store this one now: it cannot be shown again.');
        return 0;
      }
      const secret = await rotateClientSecret(clientId, { clients: deps.clients, now: deps.clock.now() });
      if (!secret) {
        deps.err(`No client ${clientId}.`);
        return 1;
      }
      deps.rotated?.(clientId, { clientSecret: secret });
      deps.out(`client_id:     ${clientId}`);
      deps.out(`client_secret: ${secret}`);
      deps.out('The previous secret no longer works. Store this one now: it cannot be shown again.');
      return 0;
    }
    default:
      deps.err(command ? `Unknown command ${command}.\n\n${CLIENTS_USAGE}` : CLIENTS_USAGE);
      return 2;
  }
}

/** The options of `npm run clients` (also checked by the CLI kit before the command runs). */
export const CLIENTS_OPTIONS = {
  tenant: { type: 'string' },
  scopes: { type: 'string', multiple: true },
  grant: { type: 'string', multiple: true },
  username: { type: 'string' },
  name: { type: 'string' },
  'client-id': { type: 'string' },
  table: { type: 'string' },
} as const;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...CLIENTS_OPTIONS, help: { type: 'boolean', short: 'h' } },
  });
}

/** Maps a schema field (`grantTypes.0`) back to the option the user typed. */
function optionName(field: string): string {
  const head = field.split('.')[0]!;
  return (
    ({ grantTypes: 'grant', clientId: 'client-id', scopes: 'scopes' } as Record<string, string>)[head] ?? head
  );
}
