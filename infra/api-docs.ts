import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The API reference page: Swagger UI (`swagger-ui-dist`, the maintained prebuilt renderer: no build
 * step, self-hosted files only, and it runs the OAuth 2.0 client credentials and password flows of
 * the document's security schemes from the page) over a `GET /openapi.json`. The local runtime serves
 * these files at `/docs/` (`local/docs.ts`); in AWS the console site uploads them beside the console
 * (`infra/constructs/console-site.ts`), pointing at the API's document. Nothing here is local-only.
 */
export interface DocsFile {
  body: Buffer;
  contentType: string;
}

/** Files copied as they are from `swagger-ui-dist`. */
export const SWAGGER_UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'oauth2-redirect.html': 'text/html; charset=utf-8',
  'oauth2-redirect.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** Folder of the installed `swagger-ui-dist` package. */
export const swaggerUiDir = (): string =>
  dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The page and its assets, keyed by file name; `specUrl` is where the page loads the document from. */
export function apiDocsFiles(specUrl: string): Map<string, DocsFile> {
  const dir = swaggerUiDir();
  const files = new Map<string, DocsFile>();
  for (const [name, contentType] of Object.entries(SWAGGER_UI_ASSETS))
    files.set(name, { body: readFileSync(join(dir, name)), contentType });
  files.set('index.html', { body: Buffer.from(API_DOCS_INDEX), contentType: 'text/html; charset=utf-8' });
  files.set('docs.js', {
    body: Buffer.from(apiDocsInitializer(specUrl)),
    contentType: 'text/javascript; charset=utf-8',
  });
  return files;
}

/**
 * Content security policy of the page: own scripts only; Swagger UI sets inline styles; `connectSrc`
 * must reach the document and the token endpoint (the API's origin when it is another one).
 */
export function apiDocsContentSecurityPolicy(connectSrc = "'self'"): string {
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src ${connectSrc}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'`;
}

export const API_DOCS_INDEX = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Switchboard API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" type="image/png" href="favicon-32x32.png">
  <link rel="stylesheet" href="swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="docs.js"></script>
</body>
</html>
`;

/** `docs.js`: starts Swagger UI on the document at `specUrl` (a deploy-time token is fine here). */
export const apiDocsInitializer = (specUrl: string): string => `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(specUrl)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    oauth2RedirectUrl: new URL('oauth2-redirect.html', window.location.href).href,
  });
});
`;
