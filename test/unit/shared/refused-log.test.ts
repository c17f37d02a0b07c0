import { afterAll, describe, expect, it, vi } from 'vitest';

vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
// Imported after the environment is set: the logger reads it when it is constructed.
const { errorResponse } = await import('../../../shared/http/handler.ts');
const { ConflictError } = await import('../../../shared/errors.ts');
afterAll(() => vi.unstubAllEnvs());

function capture(run: () => void): string[] {
  const lines: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
  const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  try {
    run();
  } finally {
    out.mockRestore();
    warn.mockRestore();
  }
  return lines;
}

describe('a refused request is logged with its reason', () => {
  it('the 4xx text reaches the log line, and no reserved-key warning is printed', () => {
    const text = 'The order ord-77 was already cancelled.';
    const lines = capture(() => {
      errorResponse(new ConflictError(text), {} as never);
    });
    const refused = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'request refused');
    expect(refused).toBeDefined();
    expect(refused?.reason).toBe(text);
    expect(refused?.code).toBe('CONFLICT');
    expect(lines.join('\n')).not.toMatch(/reserved/i);
  });
});
