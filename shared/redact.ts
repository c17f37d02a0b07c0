/**
 * Redaction of secrets and personal data before anything is logged. This hub handles customer data
 * classified Red: names, e-mails, phones, addresses and every credential are replaced by a marker.
 * Keys are matched case-insensitively on their normalised form (`clientSecret`, `client_secret`).
 */
const SENSITIVE_KEY =
  /(secret|password|passwd|token|authorization|cookie|apikey|signature|privatekey|jwk|credential|email|e_mail|phone|mobile|fax|firstname|lastname|fullname|^name$|contactname|username|^login$|street|address|^line\d*$|^addr\d*$|postcode|postalcode|zip|city|iban|taxid|vatnumber|licencekey|licensekey)/i;

export const REDACTED = '[REDACTED]';

const normalise = (key: string) => key.replace(/[-_\s]/g, '');

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(normalise(key)) || SENSITIVE_KEY.test(key);
}

/** Deep copy of `value` with every sensitive key's value replaced. Cycles and depth are bounded. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[DEPTH]';
  if (seen.has(value)) return '[CYCLE]';
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}

/**
 * Free text from a partner (an error message) with what could be a field value taken out: e-mail
 * addresses, quoted values and phone numbers become `[REDACTED]`. For operators' views and logs.
 */
export function redactText(text: string): string {
  return text
    .replace(/[^\s@'"<>()]+@[^\s@'"<>()]+\.[^\s@'"<>()]+/g, REDACTED)
    .replace(/'[^']*'|"[^"]*"|‘[^’]*’|“[^”]*”/g, REDACTED)
    .replace(/\+\d[\d\s().-]{6,}\d|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b/g, REDACTED);
}
