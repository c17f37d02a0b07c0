import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_DOCS_INDEX, SWAGGER_UI_ASSETS, swaggerUiDir } from '../../infra/api-docs.ts';
import { realWiring, testApp } from './synth.ts';

// Synthesizing the app is CPU-bound (seconds, more on a busy machine); no timing is asserted.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

type Json = any;

/**
 * The API reference in AWS: Swagger UI deployed beside the console at `/docs/` (same bucket, same
 * distribution, one deployment), reading the API's `GET /openapi.json`, under its own CSP — and made of
 * `swagger-ui-dist` and `infra/api-docs.ts` only, nothing of the local runtime.
 */
describe('API reference at /docs/ of the console site', () => {
  let template: Template;
  let resources: Record<string, Json>;
  let outdir: string;

  beforeAll(async () => {
    const built = testApp('dev', { wiring: await realWiring(), context: { alarmEmail: 'ops@example.com' } });
    template = Template.fromStack(built.stateless);
    resources = template.toJSON().Resources;
    outdir = built.app.outdir;
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('routes /docs* through its own behavior: viewer function and a CSP for Swagger UI and the API', () => {
    const [, dist] = ofType('AWS::CloudFront::Distribution')[0]!;
    const behavior = (dist.Properties.DistributionConfig.CacheBehaviors as Json[]).find(
      (b) => b.PathPattern === '/docs*',
    );
    expect(behavior).toBeDefined();
    expect(behavior.AllowedMethods).toEqual(['GET', 'HEAD']);
    expect(behavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(behavior.FunctionAssociations[0].EventType).toBe('viewer-request');
    const policyId = behavior.ResponseHeadersPolicyId.Ref as string;
    const csp = resources[policyId].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig
      .ContentSecurityPolicy.ContentSecurityPolicy as string;
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("connect-src 'self' https://*.execute-api.amazonaws.com;");
    expect(csp).toContain("frame-ancestors 'none'");
    // The console keeps its stricter policy (no inline styles).
    const defaultPolicy = dist.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId.Ref;
    expect(defaultPolicy).not.toBe(policyId);
  });

  it('the API lets the docs origin (the console distribution) read /openapi.json cross-origin', () => {
    const [distId] = ofType('AWS::CloudFront::Distribution')[0]!;
    const [, api] = ofType('AWS::ApiGatewayV2::Api')[0]!;
    const cors = api.Properties.CorsConfiguration;
    expect(JSON.stringify(cors.AllowOrigins)).toContain(`"Fn::GetAtt":["${distId}","DomainName"]`);
    expect(cors.AllowOrigins).toHaveLength(1);
    expect(cors.AllowMethods).toContain('GET');
    // Swagger UI's token request (client credentials, Basic auth) is a preflighted POST.
    expect(cors.AllowMethods).toContain('POST');
    expect(cors.AllowHeaders).toEqual(expect.arrayContaining(['authorization', 'content-type']));
  });

  it('the viewer function redirects /docs to /docs/ and serves /docs/ from index.html', () => {
    const [, fn] = ofType('AWS::CloudFront::Function')[0]!;
    const handler = new Function(`${fn.Properties.FunctionCode}; return handler;`)() as (e: Json) => Json;
    expect(handler({ request: { uri: '/docs' } })).toMatchObject({
      statusCode: 301,
      headers: { location: { value: '/docs/' } },
    });
    expect(handler({ request: { uri: '/docs/' } }).uri).toBe('/docs/index.html');
    expect(handler({ request: { uri: '/docs/swagger-ui.css' } }).uri).toBe('/docs/swagger-ui.css');
  });

  it('one deployment uploads console and docs, and docs.js names the API’s /openapi.json at deploy time', () => {
    const [, deployment] = ofType('Custom::CDKBucketDeployment')[0]!;
    expect(deployment.Properties.DistributionPaths).toEqual(['/console/*', '/docs/*']);
    const markers = JSON.stringify(deployment.Properties.SourceMarkers ?? []);
    // The API endpoint is a deploy-time value: CDK substitutes it into docs.js and config.json.
    expect(deployment.Properties.SourceMarkers).toHaveLength(3);
    expect(markers).toMatch(/"Fn::GetAtt":\["Api[0-9A-F]{8}","ApiEndpoint"\]/);
    // A Source.data asset is a folder holding the one file.
    const docsJs = readdirSync(outdir)
      .filter((d) => d.startsWith('asset.') && !d.endsWith('.zip'))
      .map((d) => join(outdir, d, 'docs', 'docs.js'))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'))[0];
    expect(docsJs).toBeDefined();
    expect(docsJs!).toContain('SwaggerUIBundle');
    expect(docsJs!).toMatch(/url: "<<marker:0xbaba:\d+>>\/openapi\.json"/);
  });

  it('the docs files are Swagger UI’s and the page’s only: nothing of the local runtime', () => {
    const assetDir = readdirSync(outdir)
      .filter((d) => d.startsWith('asset.'))
      .map((d) => join(outdir, d))
      .find((d) => readdirSync(d).includes('docs') && readdirSync(d).includes('console'));
    expect(assetDir).toBeDefined();
    const docsDir = join(assetDir!, 'docs');
    expect(readdirSync(docsDir).sort()).toEqual(['index.html', ...Object.keys(SWAGGER_UI_ASSETS)].sort());
    expect(readFileSync(join(docsDir, 'index.html'), 'utf8')).toBe(API_DOCS_INDEX);
    for (const name of Object.keys(SWAGGER_UI_ASSETS)) {
      expect(readFileSync(join(docsDir, name)).equals(readFileSync(join(swaggerUiDir(), name))), name).toBe(
        true,
      );
    }
    const page = readFileSync(join(docsDir, 'index.html'), 'utf8');
    for (const local of ['127.0.0.1', 'localhost', '/_local', '/_sandbox', 'dev-clients', '{{localUrl}}'])
      expect(page, local).not.toContain(local);
  });
});
