import '../quiet-warnings.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { openApiDocument } from '../../functions/meta/openapi-document.ts';
import { parseCli, runCli } from './kit.ts';

const NAME = 'npm run openapi --';
const USAGE = `Usage: npm run openapi -- [--out <file>] [--version <v>]

Writes the hub's OpenAPI document (the one GET /openapi.json serves, built from infra/wiring.ts and
its zod schemas) to <file>, or to stdout without --out. The output is deterministic: the same
manifest gives the same bytes.

Options:
  --out <file>       where to write (folders are created)
  --version <v>      info.version (default 0.0.0)
  -h, --help         this text`;

const { values } = parseCli({
  name: NAME,
  usage: USAGE,
  options: { out: { type: 'string' }, version: { type: 'string' } },
});

runCli(NAME, async () => {
  const text = `${JSON.stringify(openApiDocument(values.version ?? '0.0.0'), null, 2)}\n`;
  if (!values.out) {
    process.stdout.write(text);
    return 0;
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, text);
  return 0;
});
