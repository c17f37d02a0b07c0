import { apiDocsContentSecurityPolicy, apiDocsFiles, type DocsFile } from '../infra/api-docs.ts';

/**
 * The API reference at `/docs` of the local suite: the Swagger UI page of `infra/api-docs.ts` (the
 * same files the console site deploys to AWS) over this runtime's `GET /openapi.json`. Files are read
 * once from the package and kept in memory.
 */
export type { DocsFile };

/** The page and its assets, keyed by file name; `specUrl` is where the page loads the document from. */
export function docsFiles(specUrl = '/openapi.json'): Map<string, DocsFile> {
  return apiDocsFiles(specUrl);
}

/** Security headers of the docs files: own scripts only (Swagger UI sets inline styles). */
export function docsSecurityHeaders(connectSrc = "'self'"): Record<string, string> {
  return {
    'content-security-policy': apiDocsContentSecurityPolicy(connectSrc),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}
