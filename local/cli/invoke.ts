import '../quiet-warnings.ts';
import { readFileSync } from 'node:fs';
import { wiring } from '../../infra/wiring.ts';
import { LOCAL_TABLE } from '../env.ts';
import { LocalLambdas } from '../lambda.ts';
import { REPO_ROOT, startRuntime } from '../runtime.ts';
import { fail, parseArgs, runningRuntime } from './common.ts';

/**
 * `npm run invoke -- <function> <event.json>`: runs one handler once with the given event (any real
 * Lambda event: API Gateway v2, SQS, Scheduler input), like `sam local invoke`, and prints the result.
 * With the local suite running, the function talks to it (its DynamoDB, bus and sandboxes);
 * otherwise a quiet suite is started on a free port for the invocation and stopped after.
 */
const { positional } = parseArgs(process.argv.slice(2));
const [name, file] = positional;
if (!name || !file)
  fail(
    `usage: npm run invoke -- <function> <event.json>\nfunctions: ${Object.keys(wiring.functions).join(', ')}`,
  );
if (!wiring.functions[name])
  fail(`no function ${name}; functions: ${Object.keys(wiring.functions).join(', ')}`);
const event: unknown = JSON.parse(readFileSync(file, 'utf8'));
process.env.POWERTOOLS_LOG_LEVEL ??= 'INFO';

const running = runningRuntime();
let result: unknown;
if (running) {
  const { functionEnvironments, localEnvironment } = await import('../env.ts');
  Object.assign(
    process.env,
    localEnvironment({
      wiring,
      runtimeUrl: running.url,
      dynamoEndpoint: running.dynamoEndpoint,
    }),
    { TABLE_NAME: LOCAL_TABLE },
  );
  result = await new LocalLambdas(wiring.functions, REPO_ROOT, functionEnvironments(wiring)).invoke(
    name,
    event,
  );
} else {
  const runtime = await startRuntime({ port: 0, quiet: true, autoRun: false });
  try {
    result = await runtime.lambdas.invoke(name, event);
  } finally {
    await runtime.stop();
  }
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
