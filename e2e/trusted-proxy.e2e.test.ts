import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { docker, inspect } from '../support/docker.js'
import { openEventStream } from '../test/event-stream.js'
import { type HttpsStream, httpsRequest, makeTestCertificates, openHttpsStream, type TestCertificates } from './certificates.js'
import { baseUrl } from './client.js'
import { frontNetwork, recreateNginx, restoreNginx } from './front-door.js'
import { containerOf, loggedClientOf } from './stack.js'

// nginx behind a proxy, as behind Caddy or Traefik: a proxy of the test's own (a container of
// the nginx image on the stack's front network) terminates TLS with the test CA's certificate
// and passes requests on to nginx with X-Forwarded-For and X-Forwarded-Proto. It stands in for
// a proxy that many clients reach: the test names the address each request comes from in
// X-Test-Client, which the proxy passes on as the client's.
const PROXY_CONF = `
pid /tmp/proxy.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  map $http_x_test_client $client_address {
    ""      $remote_addr;
    default $http_x_test_client;
  }
  server {
    listen 8443 ssl;
    ssl_certificate /proxy/tls/fullchain.pem;
    ssl_certificate_key /proxy/tls/privkey.pem;
    location / {
      proxy_pass http://nginx:8080;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $client_address;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Test-Client "";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`

// Small limits for this file, so that a client reaches them in a few requests.
const LIMITS = { NGINX_REQUESTS_PER_SECOND_PER_ADDRESS: '1', NGINX_REQUEST_BURST_PER_ADDRESS: '20', NGINX_STREAMS_PER_ADDRESS: '3' }

let certificates: TestCertificates
let proxyContainer = ''
let proxyUrl = ''

beforeAll(async () => {
  certificates = await makeTestCertificates()
  writeFileSync(join(certificates.dir, '..', 'proxy.conf'), PROXY_CONF)
  const nginxImage = await inspect((await containerOf('nginx')).ID, '{{.Config.Image}}')
  proxyContainer = (await docker(['run', '-d', '--name', `polls-e2e-proxy-${randomBytes(3).toString('hex')}`, '--network', frontNetwork,
    '-p', '127.0.0.1::8443', '-v', `${join(certificates.dir, '..')}:/proxy:ro`, '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL',
    '--entrypoint', 'nginx', nginxImage, '-c', '/proxy/proxy.conf', '-g', 'daemon off;'])).trim()
  const proxyAddress = await inspect(proxyContainer, `{{(index .NetworkSettings.Networks "${frontNetwork}").IPAddress}}`)
  const published = (await docker(['port', proxyContainer, '8443/tcp'])).trim().split('\n')[0]!
  proxyUrl = `https://${published}`
  await recreateNginx({ env: { TRUSTED_PROXIES: proxyAddress, ...LIMITS } })
})
afterAll(async () => {
  await restoreNginx()
  if (proxyContainer) await docker(['rm', '-f', proxyContainer])
  certificates?.remove()
})

// A request through the proxy, from `client` (an address of the documentation ranges), as a
// browser on the proxy's HTTPS origin sends it.
const viaProxy = (client: string, method: string, path: string, options: { cookie?: string, body?: unknown } = {}) =>
  httpsRequest(`${proxyUrl}${path}`, {
    ca: certificates.ca,
    method,
    body: options.body,
    headers: { 'x-test-client': client, origin: proxyUrl, ...(options.cookie ? { cookie: options.cookie } : {}) }
  })
const streamViaProxy = (client: string, pollId: string) =>
  openHttpsStream(`${proxyUrl}/api/polls/${pollId}/events`, { ca: certificates.ca, headers: { 'x-test-client': client } })

async function userViaProxy (client: string): Promise<string> {
  const credentials = { username: `proxied_${randomBytes(5).toString('hex')}`, password: `pw-${randomBytes(8).toString('hex')}` }
  expect((await viaProxy(client, 'POST', '/api/auth/register', { body: credentials })).status).toBe(201)
  const login = await viaProxy(client, 'POST', '/api/auth/login', { body: credentials })
  expect(login.status).toBe(200)
  const setCookie = (login.headers['set-cookie'] ?? []).find((line) => line.startsWith('polls.sid='))!
  expect(setCookie).toMatch(/;\s*Secure/i)
  return setCookie.split(';')[0]!
}

async function pollViaProxy (client: string): Promise<{ id: string, choices: Array<{ id: string }> }> {
  const created = await viaProxy(client, 'POST', '/api/polls', { cookie: await userViaProxy(client), body: { question: 'Proxied?', choices: ['yes', 'no'] } })
  expect(created.status).toBe(201)
  return created.body
}

describe('nginx behind a trusted proxy (TRUSTED_PROXIES)', () => {
  it('accepts writes behind an HTTPS-terminating proxy: login with a Secure cookie, a vote', async () => {
    const client = '198.51.100.10'
    const cookie = await userViaProxy(client)
    const created = await viaProxy(client, 'POST', '/api/polls', { cookie, body: { question: 'Behind a proxy?', choices: ['yes', 'no'] } })
    expect(created.status).toBe(201)
    const vote = await viaProxy(client, 'POST', `/api/polls/${created.body.id}/votes`, { cookie, body: { choiceIds: [created.body.choices[0].id] } })
    expect(vote.status).toBe(201)
    expect(vote.body.totalVotes).toBe(1)
  })

  it('takes the client address from the proxy\'s X-Forwarded-For, and counts each client\'s limits apart', async () => {
    const traced = await httpsRequest(`${proxyUrl}/api/polls?limit=1`, { ca: certificates.ca, headers: { 'x-test-client': '198.51.100.20', 'x-request-id': `e2e-proxied-${randomBytes(4).toString('hex')}` } })
    expect(traced.status).toBe(200)
    expect(await loggedClientOf(traced.headers['x-request-id'] as string)).toBe('198.51.100.20')

    // Requests per second: one client's burst, all at once, runs out; another's is untouched.
    const burst = await Promise.all(Array.from({ length: 40 }, () => viaProxy('198.51.100.21', 'GET', '/api/polls?limit=1')))
    const refused = burst.filter((reply) => reply.status === 429)
    expect(refused.length).toBeGreaterThan(0)
    expect(burst.filter((reply) => reply.status !== 429).map((reply) => reply.status)).toEqual(Array(40 - refused.length).fill(200))
    expect(refused[0]!.headers['retry-after']).toBe('1')
    expect(refused[0]!.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many requests from your address; slow down' })
    expect((await viaProxy('198.51.100.22', 'GET', '/api/polls?limit=1')).status).toBe(200)

    // Open event streams: a client's fourth is refused; another client still opens one.
    const poll = await pollViaProxy('198.51.100.23')
    const streams: HttpsStream[] = []
    try {
      for (let i = 0; i < 3; i++) streams.push(await streamViaProxy('198.51.100.24', poll.id))
      expect(streams.map((stream) => stream.status)).toEqual([200, 200, 200])
      const fourth = await streamViaProxy('198.51.100.24', poll.id)
      streams.push(fourth)
      expect(fourth.status).toBe(429)
      expect(fourth.headers['retry-after']).toBe('10')
      expect(fourth.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many live streams from your address' })
      const otherClient = await streamViaProxy('198.51.100.25', poll.id)
      streams.push(otherClient)
      expect(otherClient.status).toBe(200)
    } finally {
      for (const stream of streams) stream.close()
    }
  })

  it('ignores X-Forwarded-For and X-Forwarded-Proto from a client that is not a trusted proxy', async () => {
    const poll = await pollViaProxy('198.51.100.30')
    const url = `${baseUrl()}/api/polls/${poll.id}/events`
    const streams = []
    try {
      // From the published port: this client's own address, whatever it claims.
      for (let i = 0; i < 3; i++) streams.push(await openEventStream(url, { 'x-forwarded-for': `203.0.113.${i + 1}` }))
      expect(streams.map((stream) => stream.status)).toEqual([200, 200, 200])
      const spoofed = await openEventStream(url, { 'x-forwarded-for': '203.0.113.99', 'x-request-id': 'e2e-spoofed-stream' })
      streams.push(spoofed)
      expect(spoofed.status).toBe(429)
      expect(await loggedClientOf('e2e-spoofed-stream')).not.toMatch(/^203\.0\.113\./)
    } finally {
      for (const stream of streams) stream.close()
    }

    // Nor HTTPS: no HSTS for a plain-HTTP client claiming it (the cookie: e2e/api.e2e.test.ts).
    const proto = await fetch(`${baseUrl()}/api/polls?limit=1`, { headers: { 'x-forwarded-proto': 'https' } })
    expect(proto.headers.get('strict-transport-security')).toBeNull()
  })
})
