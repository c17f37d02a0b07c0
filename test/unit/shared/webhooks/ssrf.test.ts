import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSender } from '../../../../functions/webhook-deliverer/http-sender.ts';
import { blockedReason } from '../../../../shared/webhooks/ssrf.ts';
import { urlProblem } from '../../../../shared/webhooks/url-policy.ts';

const strict = { allowLoopback: false };

describe('SSRF address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['0.0.0.0', 'this-network'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.10', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd00:ec2::254', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:127.0.0.1', 'loopback (wrapped in IPv6)'],
    ['::ffff:7f00:1', 'loopback (wrapped in IPv6)'],
    ['::ffff:169.254.169.254', 'link-local (wrapped in IPv6)'],
    ['::10.0.0.1', 'private (wrapped in IPv6)'],
    ['64:ff9b::a9fe:a9fe', 'link-local (wrapped in IPv6)'],
    ['64:ff9b::10.0.0.1', 'private (wrapped in IPv6)'],
    ['64:ff9b:1::1', 'nat64-local'],
    ['2002:7f00:1::', 'loopback (wrapped in IPv6)'],
    ['2002:a9fe:a9fe::1', 'link-local (wrapped in IPv6)'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback (wrapped in IPv6)'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(blockedReason(address, strict)).toBe(reason);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows the public address %s', (address) => {
    expect(blockedReason(address, strict)).toBeUndefined();
  });

  it('allows loopback (and only loopback) when the local stage asks for it', () => {
    const local = { allowLoopback: true };
    expect(blockedReason('127.0.0.1', local)).toBeUndefined();
    expect(blockedReason('::1', local)).toBeUndefined();
    expect(blockedReason('10.0.0.1', local)).toBe('private');
    expect(blockedReason('169.254.169.254', local)).toBe('link-local');
  });
});

describe('webhook URL policy at registration', () => {
  it.each([
    ['https://10.0.0.1/hook', 'private'],
    ['https://169.254.169.254/latest/meta-data', 'link-local'],
    ['https://[fd00:ec2::254]/', 'unique-local'],
    ['https://[::ffff:127.0.0.1]/', 'loopback'],
    ['https://0x7f000001/', 'loopback'],
    ['https://2130706433/', 'loopback'],
    ['http://example.com/hook', 'must use https'],
    ['https://user:pw@example.com/', 'credentials'],
    ['https://localhost/hook', 'public host'],
    ['ftp://example.com/', 'must use https'],
    ['not a url', 'absolute URL'],
  ])('refuses %s outside the local stage', (url, problem) => {
    expect(urlProblem(url, { stage: 'prod' })).toContain(problem);
  });

  it('accepts public https URLs, and loopback http locally', () => {
    expect(urlProblem('https://hooks.partner.example/switchboard?x=1', { stage: 'prod' })).toBeUndefined();
    expect(urlProblem('http://127.0.0.1:3000/_sandbox/receiver/a', { stage: 'local' })).toBeUndefined();
    expect(urlProblem('http://10.0.0.1/', { stage: 'local' })).toContain('private');
  });
});

describe('local-stage loopback reaches sandboxes and receivers only (#13)', () => {
  it.each([
    'http://127.0.0.1:3000/_local/schedules/usage-billing-daily',
    'http://localhost:3000/_local/clock',
    'http://127.0.0.1:3000/_aws',
    'http://127.0.0.1:3000/_AWS/secrets',
    'http://127.0.0.1:3000//_local/schedules/x',
    'http://127.0.0.1:3000/%5Flocal/schedules/x',
    'http://127.0.0.1:3000/%255Flocal/schedules/x',
    'http://127.0.0.1:3000/_sandbox/../_local/schedules/x',
    'http://[::1]:3000/_local/queues/x/redrive',
  ])('refuses %s', (url) => {
    expect(urlProblem(url, { stage: 'local' })).toContain('local runtime');
  });

  it('refuses plain http to a host that is not loopback, locally', () => {
    expect(urlProblem('http://hooks.partner.example/x', { stage: 'local' })).toContain('loopback');
    expect(urlProblem('http://93.184.216.34/x', { stage: 'local' })).toContain('loopback');
    expect(urlProblem('https://hooks.partner.example/x', { stage: 'local' })).toBeUndefined();
    expect(urlProblem('http://localhost:3000/_sandbox/receiver/a', { stage: 'local' })).toBeUndefined();
    expect(urlProblem('http://[::1]:3000/_sandbox/receiver/a', { stage: 'local' })).toBeUndefined();
  });

  it.each([
    'https://localhost./hook',
    'https://localhost../hook',
    'https://api.localhost./hook',
    'https://metadata.google.internal/x',
    'https://printer.local/x',
    'https://intranet./x',
  ])('refuses %s outside the local stage', (url) => {
    expect(urlProblem(url, { stage: 'prod' })).toContain('public host');
  });
});

describe('sender: address checked at connect time', () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://127.0.0.1/elsewhere' }).end();
      } else if (req.url === '/big') {
        res.writeHead(500).end('x'.repeat(20_000));
      } else if (req.url === '/slow') {
        setTimeout(() => res.writeHead(200).end('late'), 2_000);
      } else {
        res.writeHead(204).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const body = { body: '{}', headers: { 'content-type': 'application/json' } };

  it('refuses a hostname that resolves to 127.0.0.1 outside the local stage, before connecting', async () => {
    const before = hits.length;
    const send = createSender({ stage: 'prod', resolver: async () => [{ address: '127.0.0.1', family: 4 }] });
    const result = await send({ url: `https://innocent.example:${port}/ok`, ...body });
    expect(result.kind).toBe('blocked');
    expect(result.error).toContain('loopback');
    expect(hits.length).toBe(before);
  });

  it('refuses a rebinding answer that mixes a public and a private address', async () => {
    const send = createSender({
      stage: 'prod',
      resolver: async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
    });
    expect((await send({ url: 'https://rebind.example/', ...body })).kind).toBe('blocked');
  });

  it('refuses http outside the local stage and literal private addresses', async () => {
    const send = createSender({ stage: 'prod' });
    expect((await send({ url: `http://example.com/`, ...body })).kind).toBe('blocked');
    expect((await send({ url: `https://169.254.169.254/`, ...body })).kind).toBe('blocked');
  });

  it('locally reaches a loopback receiver through the resolver', async () => {
    const send = createSender({
      stage: 'local',
      resolver: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const result = await send({ url: `http://receiver.test:${port}/ok`, ...body });
    expect(result).toMatchObject({ kind: 'response', statusCode: 204 });
  });

  it('never delivers to the local runtime’s controls, even for an endpoint stored before the rule', async () => {
    const before = hits.length;
    const send = createSender({ stage: 'local' });
    for (const path of ['/_local/schedules/usage-billing-daily', '/%5Faws/x', '//_local/clock']) {
      const result = await send({ url: `http://127.0.0.1:${port}${path}`, ...body });
      expect(result.kind).toBe('blocked');
    }
    const viaName = createSender({
      stage: 'local',
      resolver: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect((await viaName({ url: `http://receiver.test:${port}/_local/clock`, ...body })).kind).toBe(
      'blocked',
    );
    expect(hits.length).toBe(before);
  });

  it('locally refuses plain http to a name that resolves to a public address, before connecting', async () => {
    const send = createSender({
      stage: 'local',
      resolver: async () => [{ address: '93.184.216.34', family: 4 }],
    });
    const result = await send({ url: 'http://hooks.partner.example/x', ...body });
    expect(result.kind).toBe('blocked');
    expect(result.error).toContain('loopback');
  });

  it('does not follow redirects and keeps only the first 4 KB of a body', async () => {
    const send = createSender({ stage: 'local' });
    const redirected = await send({ url: `http://127.0.0.1:${port}/redirect`, ...body });
    expect(redirected).toMatchObject({ kind: 'response', statusCode: 302 });
    expect(hits.filter((h) => h === '/elsewhere')).toHaveLength(0);
    const big = await send({ url: `http://127.0.0.1:${port}/big`, ...body });
    expect(big.statusCode).toBe(500);
    expect(big.responseBody).toHaveLength(4096);
  });

  it('gives up on a slow receiver as a timeout', async () => {
    const send = createSender({ stage: 'local', timeoutMs: 200 });
    expect(await send({ url: `http://127.0.0.1:${port}/slow`, ...body })).toMatchObject({ kind: 'timeout' });
  });
});
