import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { type IncomingHttpHeaders, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { docker, inspect, runningHealthySince } from '../support/docker.js'
import { run } from '../support/run.js'
import { baseUrl } from './client.js'
import { frontNetwork, recreateNginx, restoreNginx } from './front-door.js'
import { containerOf, loggedClientOf } from './stack.js'

// A reverse proxy on the host reaching nginx over the unix socket of compose.socket.yml, in a
// folder made as the README says: owned by nginx's uid, setgid in the proxy's group, closed to
// everyone else. This test runs as root, whom no permission stops, so containers of other uids
// try the permissions.
const NGINX_UID = 10002
// Stands for the host proxy's group (www-data, caddy): neither nginx's group (10001) nor nobody's.
const PROXY_GID = 10003
const NOBODY = 65534

let folder = ''
let socketPath = ''
let nginxImage = ''

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'polls-e2e-front-'))
  chownSync(folder, NGINX_UID, PROXY_GID)
  chmodSync(folder, 0o2750)
  socketPath = join(folder, 'polls.sock')
  // The host's own connections to the published port come from the front network's gateway:
  // trusted here, so that the test tells the socket's trust from that of TRUSTED_PROXIES.
  const gateway = (await docker(['network', 'inspect', frontNetwork, '--format', '{{range .IPAM.Config}}{{.Gateway}}{{end}}'])).trim()
  await recreateNginx({ files: ['compose.socket.yml'], env: { POLLS_SOCKET_DIR: folder, TRUSTED_PROXIES: gateway } })
  nginxImage = await inspect((await containerOf('nginx')).ID, '{{.Config.Image}}')
})
afterAll(async () => {
  try {
    await restoreNginx()
  } finally {
    if (folder) rmSync(folder, { recursive: true, force: true })
  }
})

interface SocketReply { status: number, headers: IncomingHttpHeaders, body: string }

// A request over the socket, on a connection of its own, as the host's proxy sends it.
function overSocket (method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<SocketReply> {
  return new Promise((resolve, reject) => {
    const json = body === undefined ? undefined : JSON.stringify(body)
    const sent = request({
      socketPath,
      method,
      path,
      agent: false,
      timeout: 15_000,
      headers: { host: 'polls.example', ...(json ? { 'content-type': 'application/json' } : {}), ...headers }
    }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }))
      response.on('error', reject)
    })
    sent.on('timeout', () => sent.destroy(new Error(`no answer over ${socketPath} within 15 s`)))
    sent.on('error', reject)
    sent.end(json)
  })
}

// curl in a throwaway container of the nginx image, as `user` (uid:gid), with the folder at /s:
// the HTTP status it got over the socket, or a rejection carrying curl's exit code and stderr
// (--verbose: only there does curl say why it could not connect).
async function curlOverSocketAs (user: string): Promise<string> {
  const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', '--user', user,
    '-v', `${folder}:/s`, '--entrypoint', 'curl', nginxImage,
    '--verbose', '--silent', '--show-error', '--max-time', '15', '--output', '/dev/null', '--write-out', '%{http_code}',
    '--unix-socket', '/s/polls.sock', 'http://polls.example/api/polls?limit=1'])
  return stdout
}

const requestId = (what: string) => `e2e-host-socket-${what}-${randomBytes(4).toString('hex')}`

describe('a unix socket for a proxy on the host (compose.socket.yml)', () => {
  it('listens on polls.sock in the host folder and serves the API there, writes included', async () => {
    const socket = statSync(socketPath)
    expect(socket.isSocket()).toBe(true)
    // nginx sets the mode itself, so the folder is what keeps others out; the setgid folder
    // gave the socket the proxy's group.
    expect({ mode: socket.mode & 0o777, uid: socket.uid, gid: socket.gid }).toEqual({ mode: 0o666, uid: NGINX_UID, gid: PROXY_GID })

    const listed = await overSocket('GET', '/api/polls?limit=1')
    expect(listed.status).toBe(200)
    expect(JSON.parse(listed.body)).toHaveProperty('items')

    // As behind an HTTPS proxy on the host: the app sees HTTPS, so a same-origin write passes
    // its Origin check and the session cookie is Secure.
    const credentials = { username: `socket_${randomBytes(5).toString('hex')}`, password: `pw-${randomBytes(8).toString('hex')}` }
    const fromTheProxy = { 'x-forwarded-for': '198.51.100.50', 'x-forwarded-proto': 'https', origin: 'https://polls.example' }
    expect((await overSocket('POST', '/api/auth/register', fromTheProxy, credentials)).status).toBe(201)
    const login = await overSocket('POST', '/api/auth/login', fromTheProxy, credentials)
    expect(login.status).toBe(200)
    expect(login.headers['set-cookie']?.find((line) => line.startsWith('polls.sid='))).toMatch(/;\s*Secure/i)
  })

  it('lets in a process of the folder\'s group, and refuses one of no group of it', async () => {
    expect(await curlOverSocketAs(`${NOBODY}:${PROXY_GID}`)).toBe('200')
    const refused = await curlOverSocketAs(`${NOBODY}:${NOBODY}`).then(() => undefined, (error: { code?: number, stderr?: string }) => error)
    // 7: curl could not connect.
    expect(refused).toMatchObject({ code: 7 })
    expect(refused?.stderr).toContain('connect fail for /s/polls.sock: Permission denied')
  })

  it('believes X-Forwarded-For and X-Forwarded-Proto over the socket, and over TCP only from TRUSTED_PROXIES', async () => {
    const viaSocket = requestId('socket')
    const overTheSocket = await overSocket('GET', '/api/polls?limit=1', { 'x-forwarded-for': '198.51.100.60', 'x-forwarded-proto': 'https', 'x-request-id': viaSocket })
    expect(overTheSocket.status).toBe(200)
    expect(overTheSocket.headers['strict-transport-security']).toBe('max-age=63072000')
    expect(await loggedClientOf(viaSocket)).toBe('198.51.100.60')

    // The published port, from the host: the front network's gateway, in TRUSTED_PROXIES.
    const viaTrustedTcp = requestId('trusted-tcp')
    const fromTheHost = await fetch(`${baseUrl()}/api/polls?limit=1`, { headers: { 'x-forwarded-for': '198.51.100.61', 'x-request-id': viaTrustedTcp } })
    expect(fromTheHost.status).toBe(200)
    expect(await loggedClientOf(viaTrustedTcp)).toBe('198.51.100.61')

    // From another container on the front network: not a trusted proxy, its claims ignored.
    const viaUntrustedTcp = requestId('untrusted-tcp')
    const { stdout: headers } = await run('docker', ['run', '--rm', '--network', frontNetwork, '--read-only', '--cap-drop', 'ALL', '--user', `${NOBODY}:${NOBODY}`,
      '--entrypoint', 'curl', nginxImage, '--silent', '--show-error', '--max-time', '15', '--output', '/dev/null', '--dump-header', '-',
      '--header', 'X-Forwarded-For: 198.51.100.62', '--header', 'X-Forwarded-Proto: https', '--header', `X-Request-Id: ${viaUntrustedTcp}`,
      'http://nginx:8080/api/polls?limit=1'])
    expect(headers).toMatch(/^HTTP\/1\.1 200 /)
    expect(headers).not.toMatch(/strict-transport-security/i)
    const untrustedClient = await loggedClientOf(viaUntrustedTcp)
    expect(untrustedClient).not.toBe('198.51.100.62')
    expect(untrustedClient).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
  })

  it('comes back after nginx is killed, replacing the socket the kill left behind', async () => {
    const nginx = await containerOf('nginx')
    const killedAt = Date.now()
    // SIGKILL: nginx has no chance to remove its socket. Docker's restart policy ignores a kill
    // through its API; the autorestart service starts the container again (README, "Crashes").
    await docker(['kill', nginx.ID])
    await expect.poll(() => runningHealthySince(nginx.ID, killedAt), { timeout: 60_000, interval: 500, message: 'nginx is back and healthy' }).toBe(true)
    await vi.waitFor(async () => {
      expect((await overSocket('GET', '/api/polls?limit=1')).status).toBe(200)
    }, { timeout: 30_000, interval: 500 })

    expect(statSync(socketPath).ctimeMs).toBeGreaterThan(killedAt)
    const { stderr } = await run('docker', ['logs', nginx.ID])
    expect(stderr).toContain('nginx-configure: removed the polls.sock an nginx killed before left in POLLS_SOCKET_DIR')
  })
})
