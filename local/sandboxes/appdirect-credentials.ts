/**
 * Credentials the local `appdirect-credentials` secret holds and the AppDirect sandbox accepts (not a
 * real secret): the OAuth 2.0 client (usage billing, OAuth 2.0 event fetches) and the product's
 * OAuth 1.0a consumer key and secret (notifications, event fetches, results).
 */
export const LOCAL_APPDIRECT_CREDENTIALS = {
  clientId: 'switchboard-local-appdirect',
  clientSecret: 'local-appdirect-sandbox-secret',
  consumerKey: 'switchboard-local-product',
  consumerSecret: 'local-appdirect-product-secret',
};
