/** Types of `oauth-sign` (RFC 5849 signature base string and HMAC-SHA1/RSA-SHA1 signing). */
declare module 'oauth-sign' {
  /** Request parameters: a repeated name carries an array of values (each one is signed). */
  type Params = Record<string, string | string[]>;
  export function generateBase(httpMethod: string, baseUri: string, params: Params): string;
  export function hmacsign(
    httpMethod: string,
    baseUri: string,
    params: Params,
    consumerSecret: string,
    tokenSecret?: string,
  ): string;
  export function rfc3986(value: string): string;
}
