import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The API reference at `/docs`: Swagger UI (`swagger-ui-dist`, the maintained prebuilt renderer: no
 * build step, self-hosted files only, and it runs the OAuth 2.0 client credentials and password flows
 * of the document's security scheme from the page) over the same document `GET /openapi.json` serves.
 * Files are read once from the package and kept in memory.
 */
export interface DocsFile {
  body: Buffer;
  contentType: string;
}

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'oauth2-redirect.html': 'text/html; charset=utf-8',
  'oauth2-redirect.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** The page and its assets, keyed by file name; `specUrl` is where the page loads the document from. */
export function docsFiles(specUrl = '/openapi.json'): Map<string, DocsFile> {
  const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const files = new Map<string, DocsFile>();
  for (const [name, contentType] of Object.entries(ASSETS))
    files.set(name, { body: readFileSync(join(dir, name)), contentType });
  files.set('index.html', { body: Buffer.from(INDEX), contentType: 'text/html; charset=utf-8' });
  files.set('docs.js', {
    body: Buffer.from(initializer(specUrl)),
    contentType: 'text/javascript; charset=utf-8',
  });
  return files;
}

/** Security headers of the docs files: own scripts only (Swagger UI sets inline styles). */
export function docsSecurityHeaders(connectSrc = "'self'"): Record<string, string> {
  return {
    'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src ${connectSrc}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

const INDEX = `<!doctype html>
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

const initializer = (specUrl: string) => `window.addEventListener('load', function () {
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
