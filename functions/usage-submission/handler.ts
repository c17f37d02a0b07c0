import { queryParams } from '../../shared/http/body.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { type AuthedRequest, json } from '../../shared/http/types.ts';
import { billingRunView, getBillingRun, startBillingRun } from '../../shared/usage/billing-runs.ts';
import { summarizeUsage } from '../../shared/usage/summarize-usage.ts';
import { submissionDepsFromEnv } from './deps.ts';
import { readStartRunRequest, readUsageRequest } from './read-usage-request.ts';
import { summaryQuerySchema } from './schema.ts';
import { submitUsage } from './submit-usage.ts';

const deps = submissionDepsFromEnv();
const tenantOf = (req: unknown) => (req as AuthedRequest).principal.tenant;

export const handler = httpHandler({
  functionName: 'usage-submission',
  routes: {
    'POST /v1/usage': async (req) =>
      json(202, await submitUsage({ tenant: tenantOf(req), records: readUsageRequest(req) }, deps)),
    'GET /v1/usage/summary': async (req) =>
      json(
        200,
        await summarizeUsage({ tenant: tenantOf(req), ...queryParams(req, summaryQuerySchema) }, deps),
      ),
    'POST /v1/usage/billing-runs': async (req) => {
      readStartRunRequest(req);
      return json(202, billingRunView(await startBillingRun({ requestedBy: tenantOf(req) }, deps)));
    },
    'GET /v1/usage/billing-runs/{id}': async (req) =>
      json(200, billingRunView(await getBillingRun(req.pathParameters.id ?? '', deps))),
  },
});
