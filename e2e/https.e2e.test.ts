import { randomBytes } from 'node:crypto'
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireCommands } from '../support/commands.js'
import { freePort } from '../support/free-port.js'
import { chromiumHomeTrusting, httpsRequest, makeTestCertificates, type TestCertificates } from './certificates.js'
import { baseUrl } from './client.js'
import { recreateNginx, restoreNginx } from './front-door.js'

// HTTPS in nginx as a user turns it on: compose.tls.yml with a certificate in TLS_DIR, here
// one signed by the test's own CA. Every client below trusts that CA and nothing else.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let certificates: TestCertificates
let httpsPort: number
const httpsUrl = () => `https://127.0.0.1:${httpsPort}`

beforeAll(async () => {
  requireCommands('the HTTPS browser test', [CHROMIUM], 'install Debian\'s chromium, or set CHROMIUM_PATH')
  certificates = await makeTestCertificates()
  httpsPort = await freePort()
  await recreateNginx({ files: ['compose.tls.yml'], env: { TLS_DIR: certificates.dir, POLLS_HTTPS_PORT: String(httpsPort) } })
})
afterAll(async () => {
  await restoreNginx()
  certificates?.remove()
})

// As the web page does it: same origin, so the Origin header is the HTTPS one.
const api = (method: string, path: string, options: { cookie?: string, body?: unknown } = {}) => httpsRequest(`${httpsUrl()}${path}`, {
  ca: certificates.ca,
  method,
  body: options.body,
  headers: { ...(method === 'GET' ? {} : { origin: httpsUrl() }), ...(options.cookie ? { cookie: options.cookie } : {}) }
})

async function loggedInUser (): Promise<{ cookie: string, setCookie: string }> {
  const credentials = { username: `tls_${randomBytes(5).toString('hex')}`, password: `pw-${randomBytes(8).toString('hex')}` }
  expect((await api('POST', '/api/auth/register', { body: credentials })).status).toBe(201)
  const login = await api('POST', '/api/auth/login', { body: credentials })
  expect(login.status).toBe(200)
  const setCookie = (login.headers['set-cookie'] ?? []).find((line) => line.startsWith('polls.sid='))
  if (!setCookie) throw new Error('login set no session cookie')
  return { cookie: setCookie.split(';')[0]!, setCookie }
}

// The TLS session nginx agrees to with a client offering `options`, or the reason it refused.
function handshake (options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca: certificates.ca, ...options }, () => resolve(socket))
    socket.once('error', reject)
  })
}

describe('HTTPS in nginx (compose.tls.yml)', () => {
  it('serves HTTPS with HTTP/2 and HSTS, and sends plain HTTP there with its method kept', async () => {
    const page = await api('GET', '/')
    expect(page.status).toBe(200)
    expect(page.headers['strict-transport-security']).toBe('max-age=63072000')
    expect(page.headers['x-content-type-options']).toBe('nosniff')

    const socket = await handshake({ ALPNProtocols: ['h2', 'http/1.1'] })
    expect(socket.alpnProtocol).toBe('h2')
    socket.end()

    const plain = await fetch(`${baseUrl()}/polls/7?from=plain`, { redirect: 'manual' })
    expect(plain.status).toBe(308)
    expect(plain.headers.get('location')).toBe(`${httpsUrl()}/polls/7?from=plain`)
    expect(plain.headers.get('strict-transport-security')).toBeNull()
    const write = await fetch(`${baseUrl()}/api/auth/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(write.status).toBe(308)
  })

  it('follows Mozilla\'s intermediate profile: TLS 1.2 and 1.3 only, ECDHE ciphers only, no session tickets', async () => {
    expect((await handshake({})).getProtocol()).toBe('TLSv1.3')

    const tls12 = await handshake({ maxVersion: 'TLSv1.2' })
    expect(tls12.getProtocol()).toBe('TLSv1.2')
    expect(tls12.getCipher().name).toMatch(/^ECDHE-RSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/)
    expect(tls12.getTLSTicket()).toBeUndefined()
    tls12.end()

    // Key exchanges without forward secrecy (RSA) or with finite-field Diffie-Hellman, which
    // OpenSSL would agree to by default.
    await expect(handshake({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256' }))
      .rejects.toThrow(/handshake failure/)
    // SECLEVEL=0 lets this client offer the old versions at all: the refusal is nginx's.
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      await expect(handshake({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' }), version).rejects.toThrow(/protocol version/)
    }
  })

  it('logs in and votes over HTTPS, the session cookie Secure', async () => {
    const owner = await loggedInUser()
    expect(owner.setCookie).toMatch(/;\s*Secure/i)
    expect(owner.setCookie).toMatch(/;\s*HttpOnly/i)
    const poll = await api('POST', '/api/polls', { cookie: owner.cookie, body: { question: 'Over TLS?', choices: ['yes', 'no'] } })
    expect(poll.status).toBe(201)
    const vote = await api('POST', `/api/polls/${poll.body.id}/votes`, { cookie: owner.cookie, body: { choiceIds: [poll.body.choices[0].id] } })
    expect(vote.status).toBe(201)
    expect(vote.body.totalVotes).toBe(1)
  })

  // Over HTTP/1.1 the seventh and eighth pages would wait for one of the six connections a
  // browser allows per origin, each held by an event stream. Over HTTP/2 all share one.
  it('keeps eight poll pages of one browser live at once, each receiving a vote', async () => {
    const owner = await loggedInUser()
    const created = await api('POST', '/api/polls', { cookie: owner.cookie, body: { question: 'Eight tabs?', choices: ['Tea', 'Coffee'] } })
    expect(created.status).toBe(201)
    const poll = created.body as { id: string, choices: Array<{ id: string }> }

    let browser: Browser | undefined
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
        env: { ...process.env, HOME: await chromiumHomeTrusting(certificates) }
      })
      const context = await browser.newContext({ baseURL: httpsUrl() })
      const pages: Page[] = []
      for (let i = 0; i < 8; i++) {
        const page = await context.newPage()
        page.setDefaultTimeout(10_000)
        await page.goto(`/polls/${poll.id}`)
        pages.push(page)
      }
      for (const [i, page] of pages.entries()) {
        await expect.poll(() => page.locator('.live-note').textContent(), { message: `page ${i + 1}` }).toBe('Results update live.')
        expect(await page.evaluate(() => (globalThis as unknown as { performance: { getEntriesByType: (type: string) => Array<{ nextHopProtocol: string }> } })
          .performance.getEntriesByType('navigation')[0]?.nextHopProtocol)).toBe('h2')
      }

      const vote = await api('POST', `/api/polls/${poll.id}/votes`, { cookie: owner.cookie, body: { choiceIds: [poll.choices[1]!.id] } })
      expect(vote.status).toBe(201)
      for (const [i, page] of pages.entries()) {
        await expect.poll(() => page.locator('.bar', { hasText: 'Coffee' }).locator('.bar-value').textContent(), { message: `page ${i + 1}` }).toBe('1 vote, 100%')
      }
    } finally {
      await browser?.close()
    }
  })
})
