import { createHash, randomUUID } from 'node:crypto';
import type { PutEventsRequestEntry, PutEventsResponse } from '@aws-sdk/client-eventbridge';
import type { Sandbox } from './sandboxes/kit.ts';

/**
 * The AWS APIs the functions call, served to the unchanged AWS SDK v3 on `/_aws` (the runtime sets
 * `AWS_ENDPOINT_URL_<SERVICE>`): EventBridge PutEvents, Secrets Manager GetSecretValue, SQS
 * SendMessage / SendMessageBatch (JSON protocol) and SESv2 SendEmail. Errors use the AWS JSON
 * error shape (`__type`, `message`) so the SDK raises its typed exceptions.
 */
export interface AwsEmulatorDeps {
  putEvents(entries: PutEventsRequestEntry[]): PutEventsResponse;
  secret(arnOrName: string): Record<string, unknown> | undefined;
  sendMessage(queueUrl: string, body: string, delaySeconds: number | undefined): string | undefined;
  mail: Sandbox<object>;
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
