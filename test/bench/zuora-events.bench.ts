import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoZuoraStore } from '../../functions/zuora-event/model.ts';
import { receiveZuoraEvent } from '../../functions/zuora-event/receive-event.ts';
import { zuoraEventRoute } from '../../functions/zuora-event/route.ts';
import { systemClock } from '../../shared/clock.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { apiEvent, testContext, testKeys } from '../helpers/auth.ts';
import { startTestTable } from '../helpers/dynamo.ts';
import { recordFigure } from './table.ts';

/**
 * Zuora events handled per second in-process (10-item CLIENTISCREATED payloads through the real
 * HTTP handler: JWT check, X-Client-Id, validation, hash, claim, plan, write, result) beside a bare
 * handler that only parses the JSON and writes the same 10 items to the same embedded DynamoDB.
 * The ratio is the price of exactly-once; DynamoDB round trips per item are counted on the store's
 * client (one batched read per request, one conditional write per new entity, one batched result
 * write per request: ~1.2 per item for 10-item payloads).
 */
const SECONDS = 8;
const CONCURRENCY = 4;
const ITEMS = 10;

export default async function (): Promise<void> {
  // One INFO line per request would dominate the figures (the logger re-reads its level per invocation).
  const { logger } = await import('../../shared/logger.ts');
  logger.setLogLevel('ERROR');
  (logger as unknown as { refreshSampleRateCalculation: () => void }).refreshSampleRateCalculation = () => {};
  const table = await startTestTable();
  const keys = await testKeys();
  try {
    let roundTrips = 0;
    const counted = {
      send: (command: never) => {
        roundTrips++;
        return table.doc.send(command);
      },
    } as unknown as DynamoDBDocumentClient;
    const registry = new SubscriptionRegistry(counted, table.tableName);
    const publisher: Publisher = { publish: async () => undefined };
    const deps = {
      store: new DynamoZuoraStore(counted, table.tableName, registry, ['platform']),
      publisher,
      clock: systemClock,
      ids: ulidGenerator,
      platformTenant: 'platform',
    };
    const route = zuoraEventRoute((input) => receiveZuoraEvent(input, deps));
    const handler = httpHandler({
      functionName: 'zuora-event',
      routes: { 'POST /v1/zuora/events': route, 'POST /api/billing/events': route },
      verifier: keys.verifier,
    });
    const token = await keys.token({ tenant: 'zuora', scopes: ['zuora:events'], sub: 'bench' });
    let seq = 0;
    const body = (prefix: string) => {
      const n = seq++;
      return JSON.stringify({
        typeEvent: 'CLIENTISCREATED',
        emitter: 'ZUORA',
        timestamp: new Date().toISOString(),
        payload: Array.from({ length: ITEMS }, (_, i) => ({
          zReference: `r${i}`,
          zaccount: `${prefix}${n}-${i}`,
          client: { name: 'Bench Org', department: 'IT', country: 'France' },
        })),
      });
    };

    const full = await measure(async () => {
      const event = apiEvent({
        method: 'POST',
        path: '/v1/zuora/events',
        headers: {
          authorization: `Bearer ${token}`,
          'x-client-id': 'bench',
          'content-type': 'application/json',
        },
        body: body('F'),
      });
      const res = (await handler(
        event,
        testContext('zuora-event') as Context,
      )) as APIGatewayProxyStructuredResultV2;
      if (res.statusCode !== 200) throw new Error(`bench request failed: ${res.statusCode} ${res.body}`);
    });
    const bare = await measure(async () => {
      const parsed = JSON.parse(body('B')) as { payload: Array<{ zaccount: string }> };
      for (const item of parsed.payload) {
        await table.doc.send(
          new PutCommand({
            TableName: table.tableName,
            Item: { PK: `ZCLIENT#${item.zaccount}`, SK: 'CLIENT', ...item },
          }),
        );
      }
    });
    const trips = roundTrips / (full * ITEMS);
    const fullRate = (full * ITEMS) / SECONDS;
    const bareRate = (bare * ITEMS) / SECONDS;
    console.log(
      `zuora-event handler : ${fullRate.toFixed(0)} items/s (${(full / SECONDS).toFixed(1)} requests/s of ${ITEMS} items)`,
    );
    console.log(`bare parse + put    : ${bareRate.toFixed(0)} items/s`);
    console.log(
      `ratio               : ${(fullRate / bareRate).toFixed(2)} (handler / bare), concurrency ${CONCURRENCY}, ${SECONDS} s each`,
    );
    console.log(`round trips        : ${trips.toFixed(2)} DynamoDB requests per item`);
    recordFigure({
      figure: `Zuora items through the handler (${ITEMS}-item payloads)`,
      value: fullRate,
      unit: 'items/s',
      peer: { label: 'bare parse + put', value: bareRate },
      target: 'ratio ≥ 0.5',
    });
    recordFigure({
      figure: 'DynamoDB round trips per Zuora item',
      value: trips,
      unit: 'per item',
      target: '≤ 2',
      better: 'lower',
    });
  } finally {
    await table.stop();
  }
}

/** Requests completed in SECONDS with CONCURRENCY workers. */
async function measure(request: () => Promise<void>): Promise<number> {
  const until = Date.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        await request();
        done++;
      }
    }),
  );
  return done;
}
