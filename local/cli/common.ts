import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface RuntimeInfo {
  pid: number;
  url: string;
  dynamoEndpoint: string;
  tableName: string;
}

export const dataDir = () => resolve(process.env.SWITCHBOARD_DATA_DIR ?? '.switchboard');

/** The running local suite's coordinates, if one is running on this data folder. */
export function runningRuntime(dir = dataDir()): RuntimeInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dir, 'runtime.json'), 'utf8')) as RuntimeInfo;
    process.kill(info.pid, 0); // throws when the process is gone
    return info;
  } catch {
    return undefined;
  }
}

export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** `--name value` flags and positional arguments. */
export function parseArgs(argv: string[]): { positional: string[]; flags: Record<string, string> } {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split(/=(.*)/s);
      flags[name!] = inline ?? (argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : 'true');
    } else positional.push(a);
  }
  return { positional, flags };
}
