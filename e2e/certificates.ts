// A certificate authority of the tests' own, made with openssl, and a certificate it signed for
// 127.0.0.1 and localhost: what nginx (compose.tls.yml) and the tests' TLS proxy serve. The
// tests' clients trust that CA and nothing else: Node.js through `ca`, Chromium as a person
// would, through its NSS database.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireCommands } from '../support/commands.js'
import { run } from '../support/run.js'

export interface TestCertificates {
  // fullchain.pem and privkey.pem, as TLS_DIR wants them.
  dir: string
  // The CA's certificate (PEM), to trust.
  ca: string
  caFile: string
  remove: () => void
}

const SERVER_EXTENSIONS = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost'
].join('\n')

export async function makeTestCertificates (): Promise<TestCertificates> {
  requireCommands('the HTTPS tests', ['openssl'])
  const root = mkdtempSync(join(tmpdir(), 'polls-e2e-tls-'))
  const dir = join(root, 'tls')
  mkdirSync(dir)
  const openssl = (...args: string[]) => run('openssl', args, { cwd: root })
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=polls e2e test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  await openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls/privkey.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1')
  writeFileSync(join(root, 'server.ext'), SERVER_EXTENSIONS)
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'server.ext', '-out', 'tls/fullchain.pem')
  // nginx runs as another user (10002) and reads them through a bind mount; the key is a
  // throwaway one, in a folder of the test's own.
  for (const path of [root, dir]) chmodSync(path, 0o755)
  chmodSync(join(dir, 'privkey.pem'), 0o644)
  const caFile = join(root, 'ca.pem')
  return { dir, ca: readFileSync(caFile, 'utf8'), caFile, remove: () => rmSync(root, { recursive: true, force: true }) }
}

// A HOME for Chromium whose NSS database trusts the CA for websites, as `certutil` would make
// it for a person adding their organisation's CA: nothing about certificate errors is ignored.
export async function chromiumHomeTrusting (certificates: TestCertificates): Promise<string> {
  requireCommands('the HTTPS browser test', ['certutil'], 'install Debian\'s libnss3-tools')
  const home = join(certificates.dir, '..', 'chromium-home')
  const database = `sql:${join(home, '.pki', 'nssdb')}`
  mkdirSync(join(home, '.pki', 'nssdb'), { recursive: true })
  await run('certutil', ['-N', '-d', database, '--empty-password'])
  await run('certutil', ['-A', '-d', database, '-n', 'polls e2e test CA', '-t', 'C,,', '-i', certificates.caFile])
  return home
}

export interface HttpsReply { status: number, headers: IncomingHttpHeaders, body: any }

export interface HttpsOptions { ca: string, method?: string, headers?: Record<string, string>, body?: unknown }

// A request over HTTPS that trusts only the test CA; a JSON body is sent and parsed as JSON.
export function httpsRequest (url: string, { ca, method = 'GET', headers = {}, body }: HttpsOptions): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const sent = body === undefined ? undefined : JSON.stringify(body)
    const outgoing = request(url, {
      ca, method, timeout: 15_000, headers: { ...(sent === undefined ? {} : { 'content-type': 'application/json' }), ...headers }
    }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => {
        let parsed: unknown = text
        try { parsed = text ? JSON.parse(text) : null } catch { /* not JSON: keep the text */ }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parsed })
      })
    })
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${method} ${url}: no answer within 15 s`)))
    outgoing.on('error', reject)
    outgoing.end(sent)
  })
}

export interface HttpsStream extends HttpsReply { close: () => void }

// An event stream over HTTPS: resolves once it is open (200), or with the whole answer when it
// was refused. close() ends it.
export function openHttpsStream (url: string, { ca, headers = {} }: HttpsOptions): Promise<HttpsStream> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { ca, headers: { accept: 'text/event-stream', ...headers } }, (response) => {
      const status = response.statusCode ?? 0
      const close = () => outgoing.destroy()
      if (status === 200) {
        // close() ends it in the middle, which the response reports as an error: expected.
        response.on('error', () => {})
        response.resume()
        resolve({ status, headers: response.headers, body: null, close })
        return
      }
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve({ status, headers: response.headers, body: JSON.parse(text), close }))
    })
    outgoing.on('error', reject)
    outgoing.end()
  })
}
