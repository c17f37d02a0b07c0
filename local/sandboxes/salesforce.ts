import { randomBytes } from 'node:crypto';
import { Sandbox, type SandboxContext, type SandboxRequest, type SandboxResponse } from './kit.ts';
import { LOCAL_SALESFORCE_CREDENTIALS } from './order-credentials.ts';

/**
 * Salesforce sandbox: OAuth 2.0 client credentials (`POST /services/oauth2/token`, answering with
 * `instance_url` = this sandbox), sObject upsert by external id
 * (`PATCH /services/data/vXX.X/sobjects/{type}/{field}/{value}`: 201 created / 200 updated) and the
 * Composite API with `allOrNone`, `@{ref.id}` references and Salesforce's error arrays
 * (`[{message, errorCode, fields}]`, PROCESSING_HALTED for the rolled-back siblings).
 * Required fields: Contact.LastName; Opportunity.Name, StageName, CloseDate; Quote.Name, OpportunityId.
 * Records: `oauth.token`, `composite`, and `sobject.created` / `sobject.updated` per record.
 */
interface SalesforceState {
  tokens: Record<string, number>;
  /** sObject type → record id → fields. */
  objects: Record<string, Record<string, Record<string, unknown>>>;
  counters: Record<string, number>;
}

const ID_PREFIX: Record<string, string> = {
  Account: '001',
  Contact: '003',
  Opportunity: '006',
  Quote: '0Q0',
};
const REQUIRED: Record<string, string[]> = {
  Contact: ['LastName'],
  Opportunity: ['Name', 'StageName', 'CloseDate'],
  Quote: ['Name', 'OpportunityId'],
  Account: ['Name'],
};

type SfError = { message: string; errorCode: string; fields?: string[] };
type UpsertResult = { status: number; body: unknown };

const errorResponse = (status: number, errors: SfError[]): SandboxResponse => ({ status, body: errors });

export type SalesforceSandbox = Sandbox<SalesforceState>;

export function createSalesforceSandbox(ctx: SandboxContext): SalesforceSandbox {
  const sandbox = new Sandbox<SalesforceState>('salesforce', ctx, () => ({
    tokens: {},
    objects: {},
    counters: {},
  }));

  const newId = (sobject: string) => {
    const n = (sandbox.state.counters[sobject] ?? 0) + 1;
    sandbox.state.counters[sobject] = n;
    // 18 characters, like the ids the REST API returns (the case-insensitive form).
    return `${ID_PREFIX[sobject] ?? 'a00'}Dn${String(n).padStart(13, '0')}`;
  };

  const authorised = (req: SandboxRequest): SandboxResponse | undefined => {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const expires = token ? sandbox.state.tokens[token] : undefined;
    if (!expires || expires < ctx.clock.now().getTime()) {
      return errorResponse(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    }
    return undefined;
  };

  /** Upsert of one record by external id (validation first; nothing is written on error). */
  const upsert = (
    sobject: string,
    field: string,
    value: string,
    fields: Record<string, unknown>,
    apply: boolean,
  ): UpsertResult => {
    if (!ID_PREFIX[sobject]) {
      return {
        status: 404,
        body: [{ message: `The requested resource does not exist`, errorCode: 'NOT_FOUND' }],
      };
    }
    if (field !== 'Switchboard_Order_Id__c') {
      return {
        status: 400,
        body: [
          {
            message: `Provided external ID field does not exist or is not accessible: ${field}`,
            errorCode: 'NOT_FOUND',
          },
        ],
      };
    }
    sandbox.state.objects[sobject] ??= {};
    const table = sandbox.state.objects[sobject];
    const existing = Object.entries(table).find(([, r]) => r[field] === value);
    const merged: Record<string, unknown> = { ...(existing?.[1] ?? {}), ...fields, [field]: value };
    const missing = (REQUIRED[sobject] ?? []).filter((f) => merged[f] === undefined || merged[f] === '');
    if (missing.length) {
      return {
        status: 400,
        body: [
          {
            message: `Required fields are missing: [${missing.join(', ')}]`,
            errorCode: 'REQUIRED_FIELD_MISSING',
            fields: missing,
          },
        ],
      };
    }
    for (const ref of ['OpportunityId', 'ContactId'] as const) {
      const id = merged[ref];
      const target = ref === 'OpportunityId' ? 'Opportunity' : 'Contact';
      if (typeof id === 'string' && apply && !sandbox.state.objects[target]?.[id]) {
        return {
          status: 400,
          body: [
            {
              message: `${ref}: id value of incorrect type: ${id}`,
              errorCode: 'MALFORMED_ID',
              fields: [ref],
            },
          ],
        };
      }
    }
    if (!apply)
      return {
        status: existing ? 200 : 201,
        body: { id: existing?.[0] ?? 'pending', success: true, errors: [], created: !existing },
      };
    const id = existing?.[0] ?? newId(sobject);
    table[id] = { Id: id, ...merged };
    sandbox.changed();
    sandbox.record(existing ? 'sobject.updated' : 'sobject.created', { sobject, id, externalId: value });
    return { status: existing ? 200 : 201, body: { id, success: true, errors: [], created: !existing } };
  };

  sandbox.route('POST', '/services/oauth2/token', (req) => {
    const form = new URLSearchParams(req.text());
    if (form.get('grant_type') !== 'client_credentials') {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'grant type not supported' },
      };
    }
    if (
      form.get('client_id') !== LOCAL_SALESFORCE_CREDENTIALS.clientId ||
      form.get('client_secret') !== LOCAL_SALESFORCE_CREDENTIALS.clientSecret
    ) {
      return {
        status: 400,
        body: { error: 'invalid_client', error_description: 'invalid client credentials' },
      };
    }
    const token = `00Dlocal!${randomBytes(24).toString('base64url')}`;
    sandbox.state.tokens[token] = ctx.clock.now().getTime() + 2 * 3600_000;
    sandbox.changed();
    sandbox.record('oauth.token', { clientId: form.get('client_id') });
    return {
      status: 200,
      body: {
        access_token: token,
        instance_url: ctx.baseUrl,
        id: `${ctx.baseUrl}/id/00Dlocal/005local`,
        token_type: 'Bearer',
        issued_at: String(ctx.clock.now().getTime()),
        signature: randomBytes(32).toString('base64'),
      },
    };
  });

  sandbox.route('PATCH', '/services/data/:version/sobjects/:sobject/:field/:value', (req) => {
    const denied = authorised(req);
    if (denied) return denied;
    let fields: Record<string, unknown>;
    try {
      fields = req.json<Record<string, unknown>>();
    } catch {
      return errorResponse(400, [
        { message: 'The request body is not valid JSON', errorCode: 'JSON_PARSER_ERROR' },
      ]);
    }
    const result = upsert(req.params.sobject!, req.params.field!, req.params.value!, fields, true);
    return { status: result.status, body: result.body };
  });

  sandbox.route('POST', '/services/data/:version/composite', (req) => {
    const denied = authorised(req);
    if (denied) return denied;
    let body: {
      allOrNone?: boolean;
      compositeRequest?: Array<{
        method: string;
        url: string;
        referenceId: string;
        body?: Record<string, unknown>;
      }>;
    };
    try {
      body = req.json();
    } catch {
      return errorResponse(400, [
        { message: 'The request body is not valid JSON', errorCode: 'JSON_PARSER_ERROR' },
      ]);
    }
    const subrequests = body.compositeRequest ?? [];
    if (!subrequests.length || subrequests.length > 25) {
      return errorResponse(400, [
        { message: 'compositeRequest must have 1 to 25 subrequests', errorCode: 'INVALID_INPUT' },
      ]);
    }
    sandbox.record('composite', { referenceIds: subrequests.map((s) => s.referenceId) });
    // allOrNone: validate every subrequest first (resolving references to placeholder ids), then apply.
    const snapshot = JSON.stringify(sandbox.state.objects);
    const ids: Record<string, string> = {};
    const responses: Array<{
      body: unknown;
      httpHeaders: Record<string, string>;
      httpStatusCode: number;
      referenceId: string;
    }> = [];
    let failedAt = -1;
    for (const [i, sub] of subrequests.entries()) {
      const m = /^\/services\/data\/[^/]+\/sobjects\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(sub.url);
      if (sub.method !== 'PATCH' || !m) {
        responses.push({
          body: [{ message: `Unsupported subrequest ${sub.method} ${sub.url}`, errorCode: 'NOT_FOUND' }],
          httpHeaders: {},
          httpStatusCode: 404,
          referenceId: sub.referenceId,
        });
        failedAt = i;
        if (body.allOrNone) break;
        continue;
      }
      // Without allOrNone Salesforce runs every subrequest; one that references a failed one fails.
      const unresolved = JSON.stringify(sub.body ?? {})
        .match(/@\{(\w+)\.id\}/g)
        ?.map((r) => r.slice(2, -4))
        .find((ref) => !ids[ref]);
      if (unresolved !== undefined && !body.allOrNone) {
        responses.push({
          body: [
            {
              message: `Invalid reference specified. No value for ${unresolved}.id found in ${unresolved}. Provided referenceId ${unresolved}.id.`,
              errorCode: 'PROCESSING_HALTED',
            },
          ],
          httpHeaders: {},
          httpStatusCode: 400,
          referenceId: sub.referenceId,
        });
        continue;
      }
      const resolved = Object.fromEntries(
        Object.entries(sub.body ?? {}).map(([k, v]) => [
          k,
          typeof v === 'string'
            ? v.replace(/@\{(\w+)\.id\}/g, (_, ref: string) => ids[ref] ?? `@{${ref}.id}`)
            : v,
        ]),
      );
      const result = upsert(m[1]!, m[2]!, decodeURIComponent(m[3]!), resolved, true);
      responses.push({
        body: result.body,
        httpHeaders: {},
        httpStatusCode: result.status,
        referenceId: sub.referenceId,
      });
      if (result.status >= 300) {
        failedAt = i;
        if (body.allOrNone) break;
        continue;
      }
      ids[sub.referenceId] = (result.body as { id: string }).id;
    }
    if (failedAt >= 0 && body.allOrNone) {
      sandbox.state.objects = JSON.parse(snapshot);
      // Records of the rolled-back writes stay in the log, marked rolled back.
      sandbox.record('composite.rolledBack', { referenceIds: subrequests.map((s) => s.referenceId) });
      sandbox.changed();
      const halted = {
        message: 'The transaction was rolled back since another operation in the same transaction failed.',
        errorCode: 'PROCESSING_HALTED',
      };
      return {
        status: 200,
        body: {
          compositeResponse: subrequests.map((sub, i) =>
            i === failedAt
              ? responses[i]
              : { body: [halted], httpHeaders: {}, httpStatusCode: 400, referenceId: sub.referenceId },
          ),
        },
      };
    }
    return { status: 200, body: { compositeResponse: responses } };
  });

  return sandbox;
}

/** Convenience for tests: every record of `sobject` currently stored. */
export function salesforceObjects(
  sandbox: SalesforceSandbox,
  sobject: string,
): Array<Record<string, unknown>> {
  return Object.values(sandbox.state.objects[sobject] ?? {});
}
