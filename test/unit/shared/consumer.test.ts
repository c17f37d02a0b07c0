import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseBusEvent, sqsHandler } from '../../../shared/events/consumer.ts';
import { parseScheduledInput } from '../../../shared/events/scheduled.ts';
import { testContext } from '../../helpers/auth.ts';
import { readReferenceJson } from '../../helpers/reference.ts';

const sqsSamples = [
  'aws-lambda-go/sqs-event.json',
  'aws-sam-cli/Sqs.rendered.json',
  'powertools-lambda-typescript/sqs-base.json',
  'powertools-lambda-typescript/batch-sampleSQSEvent.json',
  'powertools-lambda-typescript/batch-parser_SQS.json',
];

describe('SQS consumer kernel with real Lambda SQS events', () => {
  it.each(sqsSamples)('processes %s unchanged and reports exactly the failed records', async (file) => {
    const event = readReferenceJson<SQSEvent>('data/aws-lambda-events', file);
    const seen: string[] = [];
    const failId = event.Records[0]!.messageId;
    const handler = sqsHandler({
      parse: (body) => body,
      handle: async (body, record) => {
        seen.push(record.messageId);
        if (record.messageId === failId) throw new Error(`cannot handle ${body.slice(0, 10)}`);
      },
    });
    const res = (await handler(event, testContext())) as SQSBatchResponse;
    expect(seen).toEqual(event.Records.map((r) => r.messageId));
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: failId }]);
  });

  it('matches the shape of the Powertools partial batch response sample', () => {
    const sample = readReferenceJson<SQSBatchResponse>(
      'data/aws-lambda-events/powertools-lambda-typescript/batch-sampleSQSResponse.json',
    );
    expect(sample.batchItemFailures[0]).toHaveProperty('itemIdentifier');
  });
});

describe('EventBridge and scheduled events', () => {
  it('parses the real EventBridge sample envelope (unknown detail types pass through)', () => {
    const envelope = readReferenceJson(
      'data/aws-lambda-events/powertools-lambda-typescript/eventbridge-base.json',
    );
    const event = parseBusEvent(JSON.stringify(envelope));
    expect(event).toMatchObject({
      type: 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      detail: { state: 'terminated' },
    });
  });
  it('refuses a body that is not an EventBridge envelope', () => {
    expect(() => parseBusEvent('{"hello":1}')).toThrow();
  });
  it.each([
    'aws-lambda-go/scheduled-event.from-cloudwatch_events_test.go.json',
    'aws-sam-cli/ScheduledEvent.rendered.json',
  ])('accepts the classic scheduled-rule event %s', (file) => {
    const raw = readReferenceJson<unknown>('data/aws-lambda-events', file);
    const event = typeof raw === 'string' ? JSON.parse(raw) : raw;
    const parsed = parseScheduledInput(event);
    expect(parsed.schedule.length).toBeGreaterThan(0);
    expect(parsed.scheduledTime).toMatch(/^\d{4}-/);
  });
  it('accepts the Scheduler input the manifest configures', () => {
    expect(
      parseScheduledInput({
        schedule: 'usage-billing',
        scheduleArn: 'arn:x',
        scheduledTime: '2026-11-23T17:00:00Z',
      }),
    ).toEqual({
      schedule: 'usage-billing',
      scheduledTime: '2026-11-23T17:00:00Z',
    });
    expect(() => parseScheduledInput({ nothing: true })).toThrow();
  });
});
