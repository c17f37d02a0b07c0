import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { apiEvent, testContext } from '../../helpers/auth.ts';

/**
 * `POWERTOOLS_LOGGER_LOG_EVENT=true` is the usual "debug this function" switch. Powertools then logs
 * the whole invocation event, whose `body` is a string that key-based redaction cannot see into:
 * client secrets of token requests, buyers' names and e-mails of orders. The hub's middlewares must
 * never log the event, whatever that variable says.
 */
vi.stubEnv('POWERTOOLS_LOGGER_LOG_EVENT', 'true');
vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
// Imported after the environment is set: the logger reads it when it is constructed.
const { httpHandler } = await import('../../../shared/http/handler.ts');
const { sqsHandler } = await import('../../../shared/events/consumer.ts');
afterAll(() => vi.unstubAllEnvs());

const SECRET = 'client_secret=S3cr3t-Never-Logged';
const PERSONAL = 'jane.doe@example.com';

async function capture(run: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines.join('');
}

describe('invocation events are never logged', () => {
  it('HTTP handler: the body (secrets, personal data) does not reach the logs', async () => {
    const h = httpHandler({
      functionName: 'log-event-test',
      specs: [
        {
          method: 'POST',
          path: '/things',
          function: 'log-event-test',
          auth: 'none',
          scopes: [],
          summary: 't',
        },
      ],
      routes: { 'POST /things': async () => ({ statusCode: 204 }) },
    });
    const event = apiEvent({
      method: 'POST',
      path: '/things',
      body: `grant_type=client_credentials&${SECRET}&email=${PERSONAL}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const out = await capture(() => h(event as APIGatewayProxyEventV2, testContext()));
    expect(out).not.toContain('S3cr3t');
    expect(out).not.toContain(PERSONAL);
    expect(out).not.toContain('Lambda invocation event');
  });

  it('SQS consumer: the record bodies do not reach the logs', async () => {
    const h = sqsHandler({
      parse: (body: string) => JSON.parse(body) as unknown,
      handle: async () => {},
    } as never);
    const event = {
      Records: [
        {
          messageId: 'm1',
          receiptHandle: 'r',
          body: JSON.stringify({ contact: PERSONAL, note: SECRET }),
          attributes: {},
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
          awsRegion: 'us-east-1',
        },
      ],
    };
    const out = await capture(async () => {
      try {
        await (h as unknown as (e: unknown, c: unknown) => Promise<unknown>)(event, testContext());
      } catch {
        // Only what was logged matters here.
      }
    });
    expect(out).not.toContain('S3cr3t');
    expect(out).not.toContain(PERSONAL);
    expect(out).not.toContain('Lambda invocation event');
  });
});
