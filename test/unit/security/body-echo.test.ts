import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/errors.ts';
import { parseJsonText } from '../../../shared/http/body.ts';

/** Malformed bodies: the 400 (which is also logged as "request refused") must not quote the body. */
describe('malformed JSON errors never echo the body', () => {
  it.each([
    'jane.doe@example.com',
    '{"password": hunter2-secret}',
    '{"contact": {"email": jane.doe@example.com}}',
    "{'client_secret': 's3cr3t-value'}",
  ])('%j', (text) => {
    let caught: unknown;
    try {
      parseJsonText(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const e = caught as ValidationError;
    expect(e.code).toBe('MALFORMED_JSON');
    const said = JSON.stringify(e.toBody());
    expect(said).toMatch(/not valid JSON/);
    for (const fragment of ['jane', 'hunter2', 'secret', 's3cr3t', 'example.com']) {
      expect(said).not.toContain(fragment);
    }
  });

  it('still names the position when the parser reports one', () => {
    expect(() => parseJsonText('{"a": 1,}')).toThrow(/position \d+/);
  });
});
