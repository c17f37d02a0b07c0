import '../quiet-warnings.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { wiring } from '../../infra/wiring.ts';
import { LOCAL_TABLE } from '../env.ts';
import { LocalLambdas } from '../lambda.ts';
import { REPO_ROOT, startRuntime } from '../runtime.ts';
import { runningRuntime } from './common.ts';
import { parseCli, progress, runCli, usage } from './kit.ts';

const NAME = 'npm run invoke --';
const functions = () => Object.keys(wiring.functions).join(', ');

const USAGE = `Usage: npm run invoke -- <function> <event.json>

Runs one handler once with the given event (any real Lambda event: API Gateway v2, SQS, Scheduler
input), like sam local invoke, and prints the result. With the local suite running (npm start), the
function talks to it (its DynamoDB, bus and sandboxes); otherwise a quiet suite is started on a free
port for the invocation and stopped after.

Options:
  -h, --help   this text

Exit: 0 when the handler returned, 1 when it threw, 2 on a bad argument.
Functions: ${functions()}`;

const { positionals } = parseCli({ name: NAME, usage: USAGE, allowPositionals: true, options: {} });

runCli(NAME, async () => {
  const [name, file] = positionals;
  if (!name || !file || positionals.length > 2) usage('expected <function> <event.json>');
  if (!wiring.functions[name]) usage(`no function ${name} (functions: ${functions()})`);
  if (!existsSync(file) || !statSync(file).isFile()) usage(`no file ${file}`);
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    usage(`${file} is not JSON: ${(error as Error).message}`);
  }
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
    const p = progress('starting a quiet local suite');
    const runtime = await startRuntime({ port: 0, quiet: true, autoRun: false });
    p.done();
    try {
      result = await runtime.lambdas.invoke(name, event);
    } finally {
      await runtime.stop();
    }
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
});
