/** Credentials the local `zuora-credentials` secret holds and the Zuora sandbox accepts (not a real secret). */
export const LOCAL_ZUORA_CREDENTIALS = {
  clientId: 'switchboard-local',
  clientSecret: 'local-zuora-sandbox-secret',
};
