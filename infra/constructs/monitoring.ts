import { Duration, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  stage: string;
  alarmEmail?: string;
  functions: Record<string, IFunction>;
  /** Label → dead-letter queue. */
  deadLetterQueues: Record<string, IQueue>;
  api: HttpApi;
}

/**
 * Alarms an operator must hear about — any message in a DLQ (something was given up on) and any
 * function error — sent to an SNS topic (e-mailed when `alarmEmail` is set), and a small dashboard.
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

    const dlqDepth: IMetric[] = [];
    for (const [label, queue] of Object.entries(props.deadLetterQueues)) {
      const metric = queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), label });
      dlqDepth.push(metric);
      const alarm = new Alarm(this, `Dlq-${label.replace(/[^A-Za-z0-9-]/g, '-')}`, {
        alarmDescription: `Messages waiting in the dead-letter queue of ${label}: inspect and redrive`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      this.alarms.push(alarm);
    }

    const errors: IMetric[] = [];
    const invocations: IMetric[] = [];
    for (const [name, fn] of Object.entries(props.functions)) {
      const metric = fn.metricErrors({ period: Duration.minutes(5), label: name });
      errors.push(metric);
      invocations.push(fn.metricInvocations({ period: Duration.minutes(5), label: name }));
      const alarm = new Alarm(this, `Errors-${name}`, {
        alarmDescription: `Function ${name} reported errors`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      this.alarms.push(alarm);
    }

    const api = (metricName: string, statistic: string, label: string) =>
      props.api.metric(metricName, { statistic, period: Duration.minutes(5), label });
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
        [
          new GraphWidget({ title: 'Function invocations', left: invocations, width: 12 }),
          new GraphWidget({ title: 'Function errors', left: errors, width: 12 }),
        ],
        [new GraphWidget({ title: 'Dead-letter queue depth', left: dlqDepth, width: 24 })],
      ],
    });
  }
}
