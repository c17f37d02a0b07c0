import { createHash, randomUUID } from 'node:crypto';
import type { PutEventsRequestEntry, PutEventsResponse } from '@aws-sdk/client-eventbridge';
import type { LocalQueue } from './bus/queue.ts';
import type { LocalKms } from './kms.ts';
import type { Sandbox } from './sandboxes/kit.ts';
import type { LocalSecretVersions } from './secret-versions.ts';

/**
 * The AWS APIs the functions call, served to the unchanged AWS SDK v3 on `/_aws` (the runtime sets
 * `AWS_ENDPOINT_URL_<SERVICE>`): EventBridge PutEvents, Secrets Manager GetSecretValue, SQS
 * SendMessage / SendMessageBatch (JSON protocol) and SESv2 SendEmail. Errors use the AWS JSON
 * error shape (`__type`, `message`) so the SDK raises its typed exceptions.
 */
export interface AwsEmulatorDeps {
  putEvents(entries: PutEventsRequestEntry[]): PutEventsResponse;
  secret(arnOrName: string): Record<string, unknown> | undefined;
  /** Secrets that rotate locally (versions and staging labels); checked before `secret`. */
  versions?: LocalSecretVersions;
  /** RotateSecret: runs the secret's rotation function through its four steps. */
  rotate?(arnOrName: string): Promise<string>;
  /** KMS (GenerateDataKey, Encrypt, Decrypt) over a local master key. */
  kms?: LocalKms;
  sendMessage(queueUrl: string, body: string, delaySeconds: number | undefined): string | undefined;
  mail: Sandbox<object>;
  /**
   * The queue a URL or ARN names: a manifest queue, or (`dead`) its dead-letter queue, which
   * locally is the queue's own dead-letter list (`<name>-dlq`). Optional: operations calls only.
   */
  queue?(urlOrArn: string): { queue: LocalQueue; dead: boolean } | undefined;
  /** Message move tasks started so far, newest first per source ARN. */
  moveTasks?: Map<string, MoveTask[]>;
  now?(): number;
}

export interface MoveTask {
  TaskHandle: string;
  Status: 'COMPLETED';
  SourceArn: string;
  DestinationArn: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
}

export interface AwsResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const awsError = (status: number, type: string, message: string, contentType: string): AwsResponse => ({
  status,
  headers: { 'content-type': contentType, 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() },
  body: JSON.stringify({ __type: type, message }),
});

const ok = (body: unknown, contentType: string): AwsResponse => ({
  status: 200,
  headers: { 'content-type': contentType, 'x-amzn-requestid': randomUUID() },
  body: JSON.stringify(body),
});

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

export async function handleAwsRequest(
  deps: AwsEmulatorDeps,
  req: { method: string; path: string; headers: Record<string, string>; body: string },
): Promise<AwsResponse> {
  const target = req.headers['x-amz-target'];
  const contentType = req.headers['content-type'] ?? 'application/x-amz-json-1.1';
  let input: Record<string, unknown> = {};
  try {
    input = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
  } catch {
    return awsError(400, 'SerializationException', 'body is not JSON', contentType);
  }

  if (target === 'AWSEvents.PutEvents') {
    const entries = (input.Entries as PutEventsRequestEntry[] | undefined) ?? [];
    if (entries.length === 0 || entries.length > 10) {
      return awsError(400, 'ValidationException', 'Entries must hold between 1 and 10 entries', contentType);
    }
    try {
      return ok(deps.putEvents(entries), contentType);
    } catch (error) {
      return awsError(400, 'ValidationException', (error as Error).message, contentType);
    }
  }

  const versioned = secretVersionsCall(deps, target, input, contentType);
  if (versioned) return versioned;
  if (target === 'secretsmanager.RotateSecret' && deps.rotate && deps.versions?.has(String(input.SecretId))) {
    try {
      return ok({ ARN: input.SecretId, VersionId: await deps.rotate(String(input.SecretId)) }, contentType);
    } catch (error) {
      return awsError(400, 'InvalidRequestException', (error as Error).message, contentType);
    }
  }
  if (target?.startsWith('TrentService.') && deps.kms) return deps.kms.call(target, input, contentType);

  if (target === 'secretsmanager.GetSecretValue') {
    const id = String(input.SecretId ?? '');
    const value = deps.secret(id);
    if (!value) {
      return awsError(
        400,
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
        contentType,
      );
    }
    return ok(
      {
        ARN: id,
        Name: id.split(':').pop(),
        SecretString: JSON.stringify(value),
        VersionId: 'local',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 0,
      },
      contentType,
    );
  }

  if (target === 'AmazonSQS.SendMessage') {
    const body = String(input.MessageBody ?? '');
    const id = deps.sendMessage(String(input.QueueUrl ?? ''), body, input.DelaySeconds as number | undefined);
    if (!id)
      return awsError(
        400,
        'AWS.SimpleQueueService.NonExistentQueue',
        'The specified queue does not exist.',
        contentType,
      );
    return ok({ MessageId: id, MD5OfMessageBody: md5(body) }, contentType);
  }

  if (target === 'AmazonSQS.SendMessageBatch') {
    const entries =
      (input.Entries as Array<{ Id: string; MessageBody: string; DelaySeconds?: number }>) ?? [];
    if (entries.length === 0 || entries.length > 10) {
      return awsError(
        400,
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
        'between 1 and 10 entries',
        contentType,
      );
    }
    const successful = [];
    for (const e of entries) {
      const id = deps.sendMessage(String(input.QueueUrl ?? ''), e.MessageBody, e.DelaySeconds);
      if (!id)
        return awsError(
          400,
          'AWS.SimpleQueueService.NonExistentQueue',
          'The specified queue does not exist.',
          contentType,
        );
      successful.push({ Id: e.Id, MessageId: id, MD5OfMessageBody: md5(e.MessageBody) });
    }
    return ok({ Successful: successful, Failed: [] }, contentType);
  }

  const operations = operationsCall(deps, target, input, contentType);
  if (operations) return operations;

  if (req.method === 'POST' && req.path.endsWith('/v2/email/outbound-emails')) {
    return sendEmail(deps.mail, input);
  }

  return awsError(
    400,
    'UnknownOperationException',
    `the local runtime does not emulate ${target ?? req.path}`,
    contentType,
  );
}

/** Secrets Manager calls on a secret kept with versions (`deps.versions`); undefined for any other. */
function secretVersionsCall(
  deps: AwsEmulatorDeps,
  target: string | undefined,
  input: Record<string, unknown>,
  contentType: string,
): AwsResponse | undefined {
  const id = String(input.SecretId ?? '');
  const versions = deps.versions;
  if (!versions?.has(id) || !target?.startsWith('secretsmanager.')) return undefined;
  const notFound = () =>
    awsError(
      400,
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret value.",
      contentType,
    );
  try {
    switch (target) {
      case 'secretsmanager.GetSecretValue': {
        const v = versions.get(
          id,
          input.VersionId as string | undefined,
          input.VersionStage as string | undefined,
        );
        if (!v) return notFound();
        return ok(
          {
            ARN: id,
            Name: id.split(':').pop(),
            SecretString: v.value,
            VersionId: v.versionId,
            VersionStages: v.stages,
            CreatedDate: 0,
          },
          contentType,
        );
      }
      case 'secretsmanager.DescribeSecret':
        return ok(
          {
            ARN: id,
            Name: id.split(':').pop(),
            RotationEnabled: true,
            VersionIdsToStages: versions.stages(id),
          },
          contentType,
        );
      case 'secretsmanager.PutSecretValue': {
        const token = String(input.ClientRequestToken ?? '');
        if (!token || typeof input.SecretString !== 'string') {
          return awsError(
            400,
            'InvalidParameterException',
            'ClientRequestToken and SecretString are required',
            contentType,
          );
        }
        const stages = (input.VersionStages as string[] | undefined) ?? ['AWSCURRENT'];
        versions.put(id, token, input.SecretString, stages);
        return ok({ ARN: id, VersionId: token, VersionStages: stages }, contentType);
      }
      case 'secretsmanager.UpdateSecretVersionStage':
        versions.updateStage(
          id,
          String(input.VersionStage ?? ''),
          input.MoveToVersionId as string | undefined,
          input.RemoveFromVersionId as string | undefined,
        );
        return ok({ ARN: id }, contentType);
      default:
        return undefined;
    }
  } catch (error) {
    return awsError(400, 'InvalidRequestException', (error as Error).message, contentType);
  }
}

async function sendEmail(mail: Sandbox<object>, input: Record<string, unknown>): Promise<AwsResponse> {
  const type = 'application/json';
  const fault = await mail.injectFault();
  if (fault) {
    return fault.status === 429
      ? awsError(429, 'TooManyRequestsException', 'sandbox injected throttling', type)
      : awsError(fault.status, 'InternalFailure', 'sandbox injected failure', type);
  }
  const destination = (input.Destination ?? {}) as { ToAddresses?: string[]; CcAddresses?: string[] };
  const simple = (
    (input.Content ?? {}) as {
      Simple?: { Subject?: { Data?: string }; Body?: { Text?: { Data?: string }; Html?: { Data?: string } } };
    }
  ).Simple;
  if (!input.FromEmailAddress || !destination.ToAddresses?.length || !simple?.Subject?.Data) {
    return awsError(
      400,
      'BadRequestException',
      'FromEmailAddress, Destination.ToAddresses and a Simple subject are required',
      type,
    );
  }
  const messageId = `local-${randomUUID()}`;
  mail.record('email', {
    messageId,
    from: input.FromEmailAddress,
    to: destination.ToAddresses,
    cc: destination.CcAddresses ?? [],
    subject: simple.Subject.Data,
    text: simple.Body?.Text?.Data,
    html: simple.Body?.Html?.Data,
  });
  return { status: 200, headers: { 'content-type': type }, body: JSON.stringify({ MessageId: messageId }) };
}

const nonExistentQueue = (contentType: string) =>
  awsError(
    400,
    'AWS.SimpleQueueService.NonExistentQueue',
    'The specified queue does not exist.',
    contentType,
  );

/**
 * The calls the operations API makes about queues: SQS `GetQueueAttributes`, `ReceiveMessage` (a
 * peek of dead letters: visibility timeout 0 leaves them in place), `StartMessageMoveTask` (the
 * redrive, completed at once) and `ListMessageMoveTasks`, and CloudWatch `GetMetricData` for
 * `AWS/SQS ApproximateAgeOfOldestMessage` (computed from the messages themselves).
 */
function operationsCall(
  deps: AwsEmulatorDeps,
  target: string | undefined,
  input: Record<string, unknown>,
  contentType: string,
): AwsResponse | undefined {
  const now = deps.now?.() ?? Date.now();
  const lookup = (ref: unknown) => (typeof ref === 'string' ? deps.queue?.(ref) : undefined);
  switch (target) {
    case 'AmazonSQS.GetQueueAttributes': {
      const q = lookup(input.QueueUrl);
      if (!q) return nonExistentQueue(contentType);
      const st = q.queue.stats();
      const attributes = q.dead
        ? {
            ApproximateNumberOfMessages: String(st.deadLettered),
            ApproximateNumberOfMessagesNotVisible: '0',
            ApproximateNumberOfMessagesDelayed: '0',
          }
        : {
            ApproximateNumberOfMessages: String(st.visible),
            ApproximateNumberOfMessagesNotVisible: String(st.inFlight),
            ApproximateNumberOfMessagesDelayed: String(st.delayed),
          };
      return ok({ Attributes: attributes }, contentType);
    }
    case 'AmazonSQS.ReceiveMessage': {
      const q = lookup(input.QueueUrl);
      if (!q) return nonExistentQueue(contentType);
      if (!q.dead || input.VisibilityTimeout !== 0) {
        return awsError(
          400,
          'InvalidParameterValue',
          'the local runtime only peeks dead-letter queues (VisibilityTimeout 0)',
          contentType,
        );
      }
      const max = Math.min(10, Math.max(1, Number(input.MaxNumberOfMessages ?? 1)));
      const messages = q.queue
        .deadLetters()
        .slice(0, max)
        .map((m) => ({
          MessageId: m.messageId,
          ReceiptHandle: `peek-${m.messageId}`,
          MD5OfBody: m.md5OfBody,
          Body: m.body,
          Attributes: { SentTimestamp: String(m.sentAt), ApproximateReceiveCount: String(m.receiveCount) },
        }));
      return ok({ Messages: messages }, contentType);
    }
    case 'AmazonSQS.StartMessageMoveTask': {
      const q = lookup(input.SourceArn);
      if (!q?.dead)
        return awsError(
          400,
          'ResourceNotFoundException',
          'The source must be a dead-letter queue.',
          contentType,
        );
      if (input.DestinationArn !== undefined && input.DestinationArn !== q.queue.arn) {
        return awsError(
          400,
          'InvalidParameterValue',
          'The destination must be the queue the messages came from.',
          contentType,
        );
      }
      const toMove = q.queue.stats().deadLettered;
      const moved = q.queue.redrive();
      const task: MoveTask = {
        TaskHandle: Buffer.from(JSON.stringify({ id: randomUUID(), sourceArn: input.SourceArn })).toString(
          'base64',
        ),
        Status: 'COMPLETED',
        SourceArn: String(input.SourceArn),
        DestinationArn: q.queue.arn,
        ApproximateNumberOfMessagesMoved: moved,
        ApproximateNumberOfMessagesToMove: toMove,
        StartedTimestamp: now,
      };
      const tasks = deps.moveTasks?.get(task.SourceArn) ?? [];
      tasks.unshift(task);
      deps.moveTasks?.set(task.SourceArn, tasks.slice(0, 10));
      return ok({ TaskHandle: task.TaskHandle }, contentType);
    }
    case 'AmazonSQS.ListMessageMoveTasks': {
      const q = lookup(input.SourceArn);
      if (!q?.dead)
        return awsError(
          400,
          'ResourceNotFoundException',
          'The source must be a dead-letter queue.',
          contentType,
        );
      const max = Math.min(10, Math.max(1, Number(input.MaxResults ?? 1)));
      return ok({ Results: (deps.moveTasks?.get(String(input.SourceArn)) ?? []).slice(0, max) }, contentType);
    }
    case 'GraniteServiceVersion20100801.GetMetricData': {
      const queries = (input.MetricDataQueries as Array<Record<string, unknown>> | undefined) ?? [];
      const results = queries.map((query) => {
        const metric = ((query.MetricStat as Record<string, unknown> | undefined)?.Metric ?? {}) as {
          Namespace?: string;
          MetricName?: string;
          Dimensions?: Array<{ Name: string; Value: string }>;
        };
        const queueName = metric.Dimensions?.find((d) => d.Name === 'QueueName')?.Value;
        const q = queueName ? deps.queue?.(queueName) : undefined;
        let values: number[] = [];
        if (metric.Namespace === 'AWS/SQS' && metric.MetricName === 'ApproximateAgeOfOldestMessage' && q) {
          const sent = q.dead ? q.queue.deadLetters().map((m) => m.sentAt) : [];
          values = sent.length ? [Math.max(0, Math.round((now - Math.min(...sent)) / 1000))] : [];
        }
        return {
          Id: query.Id,
          Label: metric.MetricName,
          Timestamps: values.length ? [Math.floor(now / 1000)] : [],
          Values: values,
          StatusCode: 'Complete',
        };
      });
      return ok({ MetricDataResults: results, Messages: [] }, contentType);
    }
    default:
      return undefined;
  }
}
