import { Duration, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MetricName } from '../../shared/telemetry.ts';

export interface MonitoredFunction {
  fn: IFunction;
  timeoutSeconds: number;
}

export interface MonitoredQueue {
  queue: IQueue;
  /** Alarm when the oldest message has waited this long (work is not being consumed). */
  oldestMessageAlarmSeconds: number;
}

export interface MonitoringProps {
  stage: string;
  alarmEmail?: string;
  functions: Record<string, MonitoredFunction>;
  /** Manifest queue name → the queue its consumer reads. */
  queues: Record<string, MonitoredQueue>;
  /** Label → dead-letter queue. */
  deadLetterQueues: Record<string, IQueue>;
  api: HttpApi;
}

/** Share of a function's timeout its p99 duration may reach before the alarm fires. */
export const DURATION_ALARM_SHARE = 0.8;

/** Namespace of the capability metrics (EMF, `shared/telemetry.ts`). */
export const METRICS_NAMESPACE = 'Switchboard';

/** Dashboard rows of capability metrics: title → metric names (summed over the emitting functions). */
export const CAPABILITY_WIDGETS: Array<{ title: string; metrics: MetricName[]; unit: 'Count' | 'ms' }> = [
  {
    title: 'Orders',
    metrics: [
      'OrdersAccepted',
      'OrdersNeedsReview',
      'OrdersReceived',
      'OrdersRejected',
      'OrdersFulfilled',
      'OrdersFailed',
    ],
    unit: 'Count',
  },
  { title: 'Order pipeline latency (POST → FULFILLED)', metrics: ['OrderPipelineLatency'], unit: 'ms' },
  {
    title: 'Webhook deliveries',
    metrics: [
      'WebhookDeliveriesCreated',
      'WebhookDeliveriesSucceeded',
      'WebhookDeliveryRetries',
      'WebhookDeliveriesFailed',
    ],
    unit: 'Count',
  },
  {
    title: 'Webhook latency (attempt, event → delivered)',
    metrics: ['WebhookDeliveryLatency', 'WebhookDeliveryAge'],
    unit: 'ms',
  },
  {
    title: 'Usage',
    metrics: [
      'UsageRecordsAccepted',
      'UsageRecordsDuplicate',
      'UsageRecordsRejected',
      'UsageLinesBilled',
      'UsageBillingFailures',
    ],
    unit: 'Count',
  },
  { title: 'Zuora event items', metrics: ['ZuoraEventItems'], unit: 'Count' },
];

/**
 * What an operator must hear about, sent to an SNS topic (e-mailed when `alarmEmail` is set):
 * any message in a DLQ (something was given up on), any function error, any throttle, a function
 * whose p99 duration nears its timeout, a queue whose oldest message is too old (work stuck) and
 * any API 5xx. The dashboard shows the same signals plus the capability metrics of every function.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', {
      displayName: `Switchboard ${props.stage} alarms`,
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason: 'Alarm notifications carry no data; CloudWatch cannot publish to the AWS-managed SNS key',
    });
    if (props.alarmEmail) {
      const subscription = this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'E-mail alarm subscription: an undeliverable notification leaves the alarm state in CloudWatch',
      });
    }
    const action = new SnsAction(this.topic);
    const alarm = (
      alarmId: string,
      description: string,
      metric: IMetric,
      threshold: number,
      evaluationPeriods = 1,
    ) => {
      const created = new Alarm(this, alarmId.replace(/[^A-Za-z0-9-]/g, '-'), {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };
    const five = Duration.minutes(5);

    const dlqDepth: IMetric[] = [];
    for (const [label, queue] of Object.entries(props.deadLetterQueues)) {
      const metric = queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), label });
      dlqDepth.push(metric);
      alarm(
        `Dlq-${label}`,
        `Messages waiting in the dead-letter queue of ${label}: inspect and redrive`,
        metric,
        1,
      );
    }

    const queueAge: IMetric[] = [];
    for (const [name, { queue, oldestMessageAlarmSeconds }] of Object.entries(props.queues)) {
      const metric = queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), label: name });
      queueAge.push(metric);
      alarm(
        `QueueAge-${name}`,
        `The oldest message of queue ${name} has waited ${oldestMessageAlarmSeconds} s or more: its consumer is not keeping up or is failing`,
        metric,
        oldestMessageAlarmSeconds,
        3,
      );
    }

    const errors: IMetric[] = [];
    const invocations: IMetric[] = [];
    const throttles: IMetric[] = [];
    const durations: IMetric[] = [];
    for (const [name, { fn, timeoutSeconds }] of Object.entries(props.functions)) {
      const errorMetric = fn.metricErrors({ period: five, label: name });
      errors.push(errorMetric);
      invocations.push(fn.metricInvocations({ period: five, label: name }));
      alarm(`Errors-${name}`, `Function ${name} reported errors`, errorMetric, 1);
      const throttleMetric = fn.metricThrottles({ period: five, label: name });
      throttles.push(throttleMetric);
      alarm(`Throttles-${name}`, `Function ${name} was throttled (concurrency exhausted)`, throttleMetric, 1);
      const p99 = fn.metricDuration({ period: five, statistic: 'p99', label: name });
      durations.push(p99);
      alarm(
        `Duration-${name}`,
        `Function ${name}: p99 duration reached ${DURATION_ALARM_SHARE * 100} % of its ${timeoutSeconds} s timeout`,
        p99,
        Math.round(timeoutSeconds * 1000 * DURATION_ALARM_SHARE),
        3,
      );
    }

    const api = (metricName: string, statistic: string, label: string) =>
      props.api.metric(metricName, { statistic, period: five, label });
    alarm(
      'Api-5xx',
      'The API answered 5xx (an unexpected error or an integration failure)',
      api('5xx', 'Sum', '5xx'),
      1,
    );

    // Capability metrics are dimensioned by function (`service`): a SEARCH sums every emitter, so
    // a function added later shows up without touching the dashboard.
    const capability = (metric: MetricName, statistic: 'Sum' | 'p99') =>
      new MathExpression({
        expression:
          statistic === 'Sum'
            ? `SUM(SEARCH('{${METRICS_NAMESPACE},service} MetricName="${metric}"', 'Sum', 300))`
            : `MAX(SEARCH('{${METRICS_NAMESPACE},service} MetricName="${metric}"', 'p99', 300))`,
        label: statistic === 'Sum' ? metric : `${metric} p99`,
        period: five,
      });
    const capabilityWidgets = CAPABILITY_WIDGETS.map(
      (w) =>
        new GraphWidget({
          title: w.title,
          left: w.metrics.map((m) => capability(m, w.unit === 'ms' ? 'p99' : 'Sum')),
          width: 8,
        }),
    );

    new Dashboard(this, 'Dashboard', {
      widgets: [
        [new TextWidget({ markdown: `# Switchboard ${props.stage}`, width: 24, height: 1 })],
        [
          new GraphWidget({
            title: 'API requests and errors',
            left: [api('Count', 'Sum', 'requests'), api('4xx', 'Sum', '4xx'), api('5xx', 'Sum', '5xx')],
            width: 12,
          }),
          new GraphWidget({ title: 'API latency p99', left: [api('Latency', 'p99', 'p99')], width: 12 }),
        ],
        capabilityWidgets.slice(0, 3),
        capabilityWidgets.slice(3, 6),
        [
          new GraphWidget({ title: 'Function invocations', left: invocations, width: 8 }),
          new GraphWidget({ title: 'Function errors', left: errors, width: 8 }),
          new GraphWidget({ title: 'Function throttles', left: throttles, width: 8 }),
        ],
        [
          new GraphWidget({ title: 'Function duration p99 (ms)', left: durations, width: 12 }),
          new GraphWidget({ title: 'Oldest queued message (s)', left: queueAge, width: 12 }),
        ],
        [new GraphWidget({ title: 'Dead-letter queue depth', left: dlqDepth, width: 24 })],
      ],
    });
  }
}
