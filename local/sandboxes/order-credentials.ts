/**
 * Local-only credentials of the order pipeline (not secrets: they only open the local sandboxes).
 * The manifest serves them as the `salesforce-credentials` and `licence-signing-key` secrets'
 * `localValue`s; the Salesforce sandbox accepts exactly these.
 */
export const LOCAL_SALESFORCE_CREDENTIALS = {
  clientId: 'switchboard-local-connected-app',
  clientSecret: 'local-salesforce-sandbox-secret',
};

/** Ed25519 key that signs licences locally (a deployment generates its own into Secrets Manager). */
export const LOCAL_LICENCE_SIGNING_KEY = {
  keyId: 'local-licence-1',
  privateJwk: {
    kty: 'OKP' as const,
    crv: 'Ed25519' as const,
    d: 'UAKBp-3HXpX3DZz2NoSiMnOsLl7x9jl6AOQNHytf510',
    x: '9AwQHHE0hZudpqrCDhqpR3u5IJPasC3o9LJsbbiugeQ',
  },
};
