import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { APIGatewayProxyEventV2Schema } from '@aws-lambda-powertools/parser/schemas/api-gatewayv2';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import { describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { LocalEventBus } from '../../local/bus/event-bus.ts';
import { EVENT_SOURCE, eventDefinition } from '../../shared/events/catalog/index.ts';
import { repoRoot } from '../helpers/reference.ts';

/**
 * The AWS-shaped samples under `events/` parse with the Powertools parser schemas the handlers use:
 * API Gateway HTTP API v2 events (`*.apigw.json`), and every bus sample once published through the
 * manifest's rules — the EventBridge envelope a queue receives, inside an SQS record.
 */
const eventsDir = join(repoRoot, 'events');
const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
const files = walk(eventsDir).filter((p) => p.endsWith('.json'));
const read = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

describe('API Gateway samples', () => {
  const apigw = files.filter((p) => p.endsWith('.apigw.json'));
  it('exist', () => {
    expect(apigw.length).toBeGreaterThan(0);
  });
  it.each(apigw.map((p) => [relative(eventsDir, p), p]))(
    '%s parses with APIGatewayProxyEventV2Schema',
    (_n, path) => {
      const parsed = APIGatewayProxyEventV2Schema.safeParse(read(path));
      expect(parsed.error?.issues ?? []).toEqual([]);
      // The route key names a manifest route (what the local runtime would invoke).
      const routeKey = (read(path) as { routeKey: string }).routeKey;
      expect(wiring.routes.map((r) => `${r.method} ${r.path}`)).toContain(routeKey);
    },
  );
  it('the schema check can fail: a v1 (REST) event is refused', () => {
    const v1 = { ...(read(apigw[0]!) as Record<string, unknown>), requestContext: undefined };
    expect(APIGatewayProxyEventV2Schema.safeParse(v1).success).toBe(false);
  });
});

describe('bus samples delivered through the manifest rules', () => {
  const busSamples = files
    .filter((p) => relative(eventsDir, p).startsWith('bus/'))
    .map((p) => ({ type: relative(join(eventsDir, 'bus'), p).replace(/\.json$/, ''), detail: read(p) }));
  const delivered: Array<{ queue: string; body: string }> = [];
  const bus = new LocalEventBus({
    name: 'switchboard-local',
    rules: wiring.rules,
    targets: (queue) => ({ send: (body: string) => delivered.push({ queue, body }) }),
  });

  it.each(busSamples)(
    '$type reaches its queues as an EventBridge event inside an SQS record',
    ({ type, detail }) => {
      delivered.length = 0;
      const res = bus.putEvents([
        {
          EventBusName: 'switchboard-local',
          Source: EVENT_SOURCE,
          DetailType: type,
          Detail: JSON.stringify(detail),
        },
      ]);
      expect(res.FailedEntryCount).toBe(0);
      if (eventDefinition(type)?.public)
        expect(delivered.length, `${type} is public: fanned out`).toBeGreaterThan(0);
      for (const { queue, body } of delivered) {
        const envelope = EventBridgeSchema.safeParse(JSON.parse(body));
        expect(envelope.error?.issues ?? [], queue).toEqual([]);
        expect(envelope.data?.['detail-type']).toBe(type);
        expect(eventDefinition(type)!.schema.safeParse(envelope.data?.detail).success).toBe(true);
        const sqsEvent = {
          Records: [
            {
              messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
              receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
              body,
              attributes: {
                ApproximateReceiveCount: '1',
                SentTimestamp: '1795433400000',
                SenderId: 'AIDAIENQZJOLO23YVJ4VO',
                ApproximateFirstReceiveTimestamp: '1795433400001',
              },
              messageAttributes: {},
              md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
              eventSource: 'aws:sqs',
              eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
              awsRegion: 'us-east-1',
            },
          ],
        };
        expect(SqsSchema.safeParse(sqsEvent).error?.issues ?? []).toEqual([]);
      }
    },
  );
});
