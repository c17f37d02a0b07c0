/** Credentials the local `appdirect-credentials` secret holds and the AppDirect sandbox accepts (not a real secret). */
export const LOCAL_APPDIRECT_CREDENTIALS = {
  clientId: 'switchboard-local-appdirect',
  clientSecret: 'local-appdirect-sandbox-secret',
};
