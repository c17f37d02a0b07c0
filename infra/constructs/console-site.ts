import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  Distribution,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  Function as ViewerFunction,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import {
  API_DOCS_INDEX,
  apiDocsContentSecurityPolicy,
  apiDocsInitializer,
  SWAGGER_UI_ASSETS,
  swaggerUiDir,
} from '../api-docs.ts';
import { repoPath } from './bundling.ts';

/**
 * The operator console in AWS: the built single-page app in a private S3 bucket behind CloudFront
 * with origin access control (no public bucket, no website endpoint), HTTPS only, TLS 1.2+, and
 * security headers (CSP allowing only the API origin for calls, HSTS, no framing, no sniffing,
 * no referrer). `config.json` names the API; the API lets only this origin call it cross-origin.
 * The API reference (Swagger UI, `infra/api-docs.ts`) is deployed beside it at `/docs/`, reading the
 * API's `GET /openapi.json` cross-origin (the same CORS grant as the console).
 */
export class ConsoleSite extends Construct {
  readonly distribution: Distribution;
  /** `https://<distribution domain>`, known at deploy time. */
  readonly origin: string;
  private readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: { removalPolicy: RemovalPolicy }) {
    super(scope, id);
    const logs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront standard logs are delivered with ACLs.
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: props.removalPolicy,
    });
    Validations.of(logs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself',
    });
    this.bucket = new Bucket(this, 'Assets', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 's3/',
      removalPolicy: props.removalPolicy,
    });
    const headers = new ResponseHeadersPolicy(this, 'Headers', {
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          // connect-src adds the API origin (another domain): see `allowApi`.
          contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https://*.execute-api.amazonaws.com; frame-ancestors 'none'; base-uri 'none'; form-action 'self' https://*.execute-api.amazonaws.com; object-src 'none'",
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });
    // Swagger UI sets inline styles: its own policy, otherwise the console's headers.
    const docsHeaders = new ResponseHeadersPolicy(this, 'DocsHeaders', {
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: apiDocsContentSecurityPolicy("'self' https://*.execute-api.amazonaws.com"),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });
    // S3 has no folder index: `/docs` → `/docs/` (relative asset URLs), `/docs/` → its index.html.
    const docsIndex = new ViewerFunction(this, 'DocsIndex', {
      runtime: FunctionRuntime.JS_2_0,
      comment: 'API reference: /docs redirects to /docs/, which serves /docs/index.html',
      code: FunctionCode.fromInline(
        "function handler(event) { var r = event.request; if (r.uri === '/docs') { return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: '/docs/' } } }; } if (r.uri === '/docs/') { r.uri = '/docs/index.html'; } return r; }",
      ),
    });
    const origin = S3BucketOrigin.withOriginAccessControl(this.bucket);
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Switchboard operator console',
      defaultRootObject: 'console/index.html',
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin,
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        responseHeadersPolicy: headers,
      },
      additionalBehaviors: {
        '/docs*': {
          origin,
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
          responseHeadersPolicy: docsHeaders,
          functionAssociations: [{ function: docsIndex, eventType: FunctionEventType.VIEWER_REQUEST }],
        },
      },
      // Deep links of the single-page app (`/console/anything`) load the app.
      errorResponses: [{ httpStatus: 403, responseHttpStatus: 200, responsePagePath: '/console/index.html' }],
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Operators work from anywhere; access is by sign-in, not geography',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason: 'Static assets only (no server-side logic); the API behind it has its own throttling',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'Default CloudFront certificate: the viewer policy cannot be pinned until a custom domain is attached',
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;
  }

  /**
   * Uploads the console built from source, with `config.json` naming the API, and the API reference
   * (`docs/`: Swagger UI's files from `swagger-ui-dist`, the page, and `docs.js` naming the API's
   * `/openapi.json`, resolved at deploy time).
   */
  deploy(apiUrl: string): void {
    const out = join(tmpdir(), `switchboard-console-${Stack.of(this).stackName}`);
    mkdirSync(join(out, 'console'), { recursive: true });
    buildSync({
      entryPoints: { app: repoPath('console/src/main.tsx') },
      bundle: true,
      format: 'esm',
      target: 'es2022',
      minify: true,
      outdir: join(out, 'console'),
      jsx: 'automatic',
      jsxImportSource: 'preact',
      legalComments: 'none',
      logLevel: 'silent',
    });
    writeFileSync(join(out, 'console/index.html'), readFileSync(repoPath('console/index.html')));
    mkdirSync(join(out, 'docs'), { recursive: true });
    for (const name of Object.keys(SWAGGER_UI_ASSETS))
      copyFileSync(join(swaggerUiDir(), name), join(out, 'docs', name));
    writeFileSync(join(out, 'docs/index.html'), API_DOCS_INDEX);
    const deployment = new BucketDeployment(this, 'Deploy', {
      sources: [
        Source.asset(out),
        Source.jsonData('console/config.json', { apiUrl }),
        Source.data('docs/docs.js', apiDocsInitializer(`${apiUrl}/openapi.json`)),
      ],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/console/*', '/docs/*'],
      memoryLimit: 256,
    });
    // CDK's own provider function that copies the files: its findings are CDK's design, acknowledged
    // on that function alone (its role reads the CDK asset bucket and writes this bucket).
    const stack = Stack.of(this);
    const provider = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    const bucketId = stack.getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    const reason = 'CDK BucketDeployment provider: copies the built console into its bucket at deploy time';
    for (const id of [
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM5[Action::s3:GetObject*]',
      'AwsSolutions-IAM5[Action::s3:GetBucket*]',
      'AwsSolutions-IAM5[Action::s3:List*]',
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
      'AwsSolutions-IAM5[Action::s3:Abort*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
      `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-L1',
      'Serverless-LambdaDLQ',
      'Serverless-LambdaLatestVersion',
      'Serverless-LambdaTracing',
      'Serverless-LambdaDefaultMemorySize',
      'Serverless-LambdaDefaultTimeout',
    ]) {
      if (provider) Validations.of(provider).acknowledge({ id, reason });
      Validations.of(deployment).acknowledge({ id, reason });
    }
  }
}
