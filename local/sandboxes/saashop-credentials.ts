/** Credentials the local `saashop-credentials` secret holds and the SaaShop sandbox accepts (not a real secret). */
export const LOCAL_SAASHOP_CREDENTIALS = {
  clientId: 'switchboard-local-seller',
  clientSecret: 'local-saashop-sandbox-secret',
};
