/** Key the local `screening-credentials` secret holds and the screening sandbox accepts (not a real secret). */
export const LOCAL_SCREENING_CREDENTIALS = { subscriptionKey: 'local-screening-subscription-key' };
