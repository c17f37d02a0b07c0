import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalEventBus } from '../../../local/bus/event-bus.ts';
import { matchesPattern, validatePattern } from '../../../local/bus/pattern.ts';
import { LocalQueue, readBatchResponse } from '../../../local/bus/queue.ts';

// The real AWS samples (aws-lambda-go, SAM CLI, Powertools) read in place from the shared reference
// folder: what our bus and queue produce must look like them, and they must run through our code.
const samplesDir = fileURLToPath(
  new URL('../../../../shared/reference/data/aws-lambda-events/', import.meta.url),
);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
const samples = walk(samplesDir);
const read = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const named = (re: RegExp) => samples.filter((p) => re.test(p.slice(samplesDir.length)));

const sqsSamples = named(/(^|\/)(sqs[^/]*|batch-[^/]*)\.json$/i).filter((p) => !/Response/.test(p));
const eventBridgeSample = named(/eventbridge-base\.json$/)[0]!;
const scheduledRuleSample = named(/scheduled-event\.from-cloudwatch_events_test\.go\.json$/)[0]!;

describe('real SQS samples', () => {
  it('are present', () => {
    expect(sqsSamples.length).toBeGreaterThanOrEqual(6);
  });

  it.each(sqsSamples.map((p) => [p.slice(samplesDir.length), p]))(
    '%s parses with SqsSchema',
    (_name, path) => {
      expect(() => SqsSchema.parse(read(path))).not.toThrow();
    },
  );

  it('our records carry every field a real record carries (SqsSchema-valid, same attribute names)', async () => {
    const real = SqsSchema.parse(read(named(/powertools-lambda-typescript\/sqs-base\.json$/)[0]!));
    const realRecord = real.Records[0]!;
    const events: SQSEvent[] = [];
    const queue = new LocalQueue({
      spec: {
        name: 'my-queue',
        consumer: 'fn',
        visibilityTimeoutSeconds: 30,
        maxReceiveCount: 3,
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 2,
      },
      consumer: async (event) => void events.push(event),
    });
    queue.send(realRecord.body);
    await queue.pump();
    const ours = SqsSchema.parse(events[0]).Records[0]!;
    expect(Object.keys(ours).sort()).toEqual(
      Object.keys(realRecord)
        .filter((k) => k !== 'md5OfMessageAttributes')
        .sort(),
    );
    expect(Object.keys(ours.attributes).sort()).toEqual(
      ['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp'].sort(),
    );
    // Same body, same MD5 as the one AWS computed for the sample.
    expect(ours.md5OfBody).toBe(realRecord.md5OfBody);
    await queue.stop();
  });

  it('the real partial batch response runs through our response reader', () => {
    const event = read(named(/batch-sampleSQSEvent\.json$/)[0]!) as SQSEvent;
    const response = read(named(/batch-sampleSQSResponse\.json$/)[0]!) as {
      batchItemFailures: { itemIdentifier: string }[];
    };
    const ids = event.Records.map((r) => r.messageId);
    const failed = readBatchResponse(response, ids);
    expect([...failed]).toEqual(response.batchItemFailures.map((f) => f.itemIdentifier));
    expect(ids.filter((id) => !failed.has(id)).length).toBe(ids.length - failed.size);
  });
});

describe('real EventBridge samples', () => {
  const buses: LocalEventBus[] = [];
  afterEach(() => void buses.splice(0));

  it('eventbridge-base.json and the scheduled-rule sample parse with EventBridgeSchema', () => {
    expect(() => EventBridgeSchema.parse(read(eventBridgeSample))).not.toThrow();
    expect(() => EventBridgeSchema.parse(read(scheduledRuleSample))).not.toThrow();
  });

  it('a real envelope runs unchanged through matchesPattern', () => {
    const sample = read(eventBridgeSample);
    const yes = [
      { source: ['aws.ec2'] },
      { 'detail-type': [{ prefix: 'EC2 Instance' }], detail: { state: ['terminated'] } },
      { resources: [{ wildcard: 'arn:aws:ec2:*:instance/*' }] },
      { 'replay-name': [{ exists: true }], account: [{ 'anything-but': '000000000000' }] },
      {
        time: [{ prefix: '2017-12-22' }],
        detail: { instance_id: [{ 'equals-ignore-case': 'I-1234567890ABCDEF0' }] },
      },
    ];
    const no = [
      { source: ['aws.s3'] },
      { detail: { state: [{ 'anything-but': ['terminated', 'stopped'] }] } },
      { detail: { state: [{ exists: false }] } },
      { region: [{ suffix: 'east-1' }] },
    ];
    for (const pattern of [...yes, ...no]) validatePattern(pattern);
    expect(yes.map((p) => matchesPattern(p, sample))).toEqual(yes.map(() => true));
    expect(no.map((p) => matchesPattern(p, sample))).toEqual(no.map(() => false));
    expect(
      matchesPattern(
        { source: ['aws.events'], 'detail-type': ['Scheduled Event'] },
        read(scheduledRuleSample),
      ),
    ).toBe(true);
  });

  it('our envelope has exactly the fields of a real one (bar replay-name) and the bus routes the real one', () => {
    const sample = read(eventBridgeSample) as Record<string, unknown>;
    const bodies: string[] = [];
    const bus = new LocalEventBus({
      name: 'hub',
      rules: [
        {
          name: 'ec2',
          description: '',
          pattern: { source: ['aws.ec2'], detail: { state: ['terminated'] } },
          queue: 'q',
        },
        { name: 'other', description: '', pattern: { source: ['switchboard'] }, queue: 'q' },
      ],
      targets: { q: { send: (b: string) => void bodies.push(b) } },
    });
    buses.push(bus);
    expect(bus.matchingRules(sample)).toEqual(['ec2']);

    bus.putEvents([
      { EventBusName: 'hub', Source: 'switchboard', DetailType: 'x.happened', Detail: '{"a":1}' },
    ]);
    const ours = EventBridgeSchema.parse(JSON.parse(bodies[0]!));
    expect(Object.keys(ours).sort()).toEqual(
      Object.keys(sample)
        .filter((k) => k !== 'replay-name')
        .sort(),
    );
  });
});
