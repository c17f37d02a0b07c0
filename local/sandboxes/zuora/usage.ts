import { randomBytes } from 'node:crypto';
import type { SandboxRequest, SandboxResponse } from '../kit.ts';
import { requireZuoraToken, type ZuoraSandbox } from './index.ts';

/**
 * Zuora usage import of the sandbox: `POST /v1/usage` (multipart/form-data, field `file`, a CSV),
 * `GET /v1/usage/{importId}/status`, and the ZOQL query `select … from Import where Name = '…'` on
 * `POST /v1/action/query` (how a client finds an import it lost the answer of). An import completes
 * after two status polls or five seconds of hub time; a file with any bad row fails as a whole and
 * imports nothing (Zuora's imports are atomic). Completed rows are recorded as `usage.imported`.
 */
export interface UsageImport {
  id: string;
  name: string;
  status: 'Pending' | 'Processing' | 'Completed' | 'Failed';
  createdAtMs: number;
  polls: number;
  rows: Array<Record<string, string>>;
  error?: string;
}

export const ZUORA_USAGE_REQUIRED_COLUMNS = [
  'ACCOUNT_ID',
  'UOM',
  'QTY',
  'STARTDATE',
  'ENDDATE',
  'PRODUCT_RATE_PLAN_CHARGE_ID',
  'SUBSCRIPTION_ID',
  'CHARGE_ID',
  'DESCRIPTION',
];
const MAX_FILE_BYTES = 4 * 1024 * 1024;

const fail = (status: number, code: number, message: string): SandboxResponse => ({
  status,
  body: { success: false, processId: randomBytes(8).toString('hex'), reasons: [{ code, message }] },
});

export function registerZuoraUsageRoutes(sandbox: ZuoraSandbox): void {
  const imports = (): Record<string, UsageImport> => {
    sandbox.state.usageImports ??= {};
    return sandbox.state.usageImports as Record<string, UsageImport>;
  };
  const dateFormat = () => (sandbox.state.usageDateFormat as string | undefined) ?? 'MM/DD/YYYY';

  /** Moves an import along: Pending → Processing → Completed/Failed, by polls or by hub time. */
  const advance = (imp: UsageImport, polled: boolean) => {
    if (polled) imp.polls++;
    if (imp.status === 'Completed' || imp.status === 'Failed') return;
    const due = imp.polls >= 2 || sandbox.ctx.clock.now().getTime() - imp.createdAtMs >= 5_000;
    if (!due) {
      imp.status = imp.polls >= 1 ? 'Processing' : 'Pending';
    } else if (imp.error) {
      imp.status = 'Failed';
      sandbox.record('usage.import.failed', { importId: imp.id, name: imp.name, reason: imp.error });
    } else {
      imp.status = 'Completed';
      sandbox.record('usage.imported', { importId: imp.id, name: imp.name, rows: imp.rows });
    }
    sandbox.changed();
  };

  sandbox.route('POST', '/v1/usage', (req) => {
    const denied = requireZuoraToken(sandbox, req);
    if (denied) return denied;
    const file = multipartFile(req, 'file');
    if (!file) return fail(400, 53100020, 'The request must be multipart/form-data with a file field');
    if (file.content.length >= MAX_FILE_BYTES)
      return fail(400, 53100020, 'The usage file must be smaller than 4 MB');
    if (!/\.(csv|xls|xlsx|zip)$/i.test(file.filename))
      return fail(400, 53100020, 'The usage file must be a .csv, .xls or .zip file');
    const parsed = parseUsageCsv(file.content.toString('utf8'), dateFormat());
    const imp: UsageImport = {
      id: randomBytes(16).toString('hex'),
      name: file.filename,
      status: 'Pending',
      createdAtMs: sandbox.ctx.clock.now().getTime(),
      polls: 0,
      rows: parsed.rows,
      ...(parsed.error ? { error: parsed.error } : {}),
    };
    imports()[imp.id] = imp;
    sandbox.changed();
    sandbox.record('usage.import.received', { importId: imp.id, name: imp.name, size: file.content.length });
    return {
      status: 200,
      body: { checkImportStatus: `/v1/usage/${imp.id}/status`, size: file.content.length, success: true },
    };
  });

  sandbox.route('GET', '/v1/usage/:importId/status', (req) => {
    const denied = requireZuoraToken(sandbox, req);
    if (denied) return denied;
    const imp = imports()[req.params.importId!];
    if (!imp) return fail(404, 50000040, `Cannot find import ${req.params.importId}`);
    advance(imp, true);
    return {
      status: 200,
      body: {
        importStatus: imp.status,
        message:
          imp.status === 'Failed'
            ? imp.error
            : imp.status === 'Completed'
              ? `${imp.rows.length} usage records imported`
              : '',
        success: true,
      },
    };
  });

  sandbox.route('POST', '/v1/action/query', (req) => {
    const denied = requireZuoraToken(sandbox, req);
    if (denied) return denied;
    let query = '';
    try {
      query = String(req.json<{ queryString?: unknown }>().queryString ?? '');
    } catch {
      return fail(400, 50000040, 'malformed JSON');
    }
    const m = /^select\s+[\w\s,]+\s+from\s+Import\s+where\s+Name\s*=\s*'([^']*)'\s*$/i.exec(query.trim());
    if (!m) return fail(400, 50000040, "The sandbox supports only: select … from Import where Name = '…'");
    const found = Object.values(imports()).filter((i) => i.name === m[1]);
    for (const imp of found) advance(imp, false);
    return {
      status: 200,
      body: {
        records: found.map((i) => ({
          Id: i.id,
          Name: i.name,
          Status: i.status,
          ImportType: 'Usage',
          TotalCount: i.rows.length,
        })),
        size: found.length,
        done: true,
      },
    };
  });
}

/** Extracts one file part of a multipart/form-data body. */
function multipartFile(
  req: SandboxRequest,
  field: string,
): { filename: string; content: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(req.headers['content-type'] ?? '');
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '') || !boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let pos = req.body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length + 2; // skip CRLF
    const next = req.body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = req.body.subarray(start, next - 2); // drop CRLF before the delimiter
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const name = /name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      if (name === field && filename !== undefined)
        return { filename, content: part.subarray(headerEnd + 4) };
    }
    pos = next;
  }
  return undefined;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cur);
      cur = '';
    } else cur += ch;
  }
  cells.push(cur);
  return cells;
}

function validDate(value: string, format: string): boolean {
  const parts =
    format === 'DD/MM/YYYY'
      ? /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(value)?.slice(1).reverse()
      : format === 'YYYY-MM-DD'
        ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)?.slice(1)
        : (() => {
            const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(value);
            return m ? [m[3]!, m[1]!, m[2]!] : undefined;
          })();
  if (!parts) return false;
  const [y, mo, d] = parts.map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** Parses and validates a usage file; any bad row makes the whole import fail (atomic). */
export function parseUsageCsv(
  text: string,
  dateFormat: string,
): { rows: Array<Record<string, string>>; error?: string } {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toUpperCase());
  const missing = ZUORA_USAGE_REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length) return { rows: [], error: `Missing required columns: ${missing.join(', ')}` };
  const rows: Array<Record<string, string>> = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = splitCsvLine(lines[i]!);
    const row = Object.fromEntries(header.map((h, idx) => [h, (cells[idx] ?? '').trim()]));
    const problem = !row.ACCOUNT_ID
      ? 'ACCOUNT_ID is required'
      : !row.UOM
        ? 'UOM is required'
        : !/^\d+(\.\d+)?$/.test(row.QTY ?? '')
          ? `QTY ${row.QTY} is not a non-negative number`
          : !validDate(row.STARTDATE ?? '', dateFormat)
            ? `STARTDATE ${row.STARTDATE} is not a ${dateFormat} date`
            : row.ENDDATE && !validDate(row.ENDDATE, dateFormat)
              ? `ENDDATE ${row.ENDDATE} is not a ${dateFormat} date`
              : undefined;
    if (problem) return { rows: [], error: `Row ${i + 1}: ${problem}; nothing was imported` };
    rows.push(row);
  }
  if (!rows.length) return { rows: [], error: 'The usage file has no records' };
  return { rows };
}
