import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * The one way a Switchboard CLI reads its arguments and reports failure:
 * - `node:util` `parseArgs` in strict mode, `--help`/`-h` prints the usage text and exits 0;
 * - a bad flag or argument prints one line (`<name>: <problem> (see --help)`) and exits 2;
 * - any other failure prints one line (`<name>: <message>`) and exits 1 (`DEBUG=1` adds the stack);
 * - `progress()` says what is still running when something takes longer than a second.
 */

/** A problem with what the user typed: one line, exit 2. */
export class UsageError extends Error {}

export interface CliSpec<O extends NonNullable<ParseArgsConfig['options']>> {
  /** As the user types it: `npm run send --`. */
  name: string;
  /** The full usage text printed on `--help`. */
  usage: string;
  options: O;
  allowPositionals?: boolean;
}

type Parsed<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseArgs<{
    options: O & { help: { type: 'boolean'; short: 'h' } };
    allowPositionals: true;
    strict: true;
  }>
>;

let currentName = 'switchboard';

/** Parses `argv` (default: the process's) or exits: 0 after `--help`, 2 on a bad argument. */
export function parseCli<O extends NonNullable<ParseArgsConfig['options']>>(
  spec: CliSpec<O>,
  argv: string[] = process.argv.slice(2),
): Parsed<O> {
  currentName = spec.name;
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    }) as Parsed<O>;
  } catch (error) {
    usageExit(spec.name, oneLine((error as Error).message));
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${spec.usage.trimEnd()}\n`);
    process.exit(0);
  }
  return parsed;
}

/** Throws a usage problem (caught by `runCli`: one line, exit 2). */
export function usage(message: string): never {
  throw new UsageError(message);
}

/**
 * Runs a CLI's main function: exit code from its result (default 0), a UsageError is one line and
 * exit 2, anything else one line and exit 1 (stack only with DEBUG=1).
 */
export function runCli(name: string, main: () => Promise<unknown>): void {
  currentName = name;
  main().then(
    (code) => process.exit(typeof code === 'number' ? code : 0),
    (error: unknown) => {
      if (error instanceof UsageError) usageExit(name, error.message);
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`${name}: ${oneLine(message)}\n`);
      if (process.env.DEBUG && error instanceof Error && error.stack)
        process.stderr.write(`${error.stack}\n`);
      process.exit(1);
    },
  );
}

function usageExit(name: string, message: string): never {
  process.stderr.write(`${name}: ${message} (see --help)\n`);
  process.exit(2);
}

function oneLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? text;
}

/**
 * Progress for work that may take more than a second: silent if `done()` comes first, otherwise a
 * line on stderr every second (`<label>… 3 s[, detail]`). `update(detail)` changes the detail shown.
 */
export function progress(label: string, everyMs = 1000): { update(detail: string): void; done(): void } {
  const started = Date.now();
  let detail = '';
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    process.stderr.write(`${currentName}: ${label}… ${seconds} s${detail ? `, ${detail}` : ''}\n`);
  }, everyMs);
  timer.unref();
  return {
    update(d: string) {
      detail = d;
    },
    done() {
      clearInterval(timer);
    },
  };
}
