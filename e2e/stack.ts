import { randomBytes } from 'node:crypto'
import { inject } from 'vitest'
import { compose, docker } from './compose.js'

export const baseUrl = () => inject('stackUrl')
export const stack = (args: string[], env: Record<string, string> = {}) => compose(inject('stackProject'), { ...inject('stackEnv'), ...env }, args)

export interface Client {
  username: string
  password: string
  cookie: string
}

export interface Reply {
  status: number
  body: any
  headers: Headers
}

// Every e2e request goes to nginx's published port and carries its own X-Request-Id, so the
// test can find it in nginx's log and see which replica served it.
export async function call (method: string, path: string, options: { cookie?: string, body?: unknown, requestId?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'x-request-id': options.requestId ?? `e2e-${randomBytes(8).toString('hex')}` }
  if (options.cookie) headers.cookie = options.cookie
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${baseUrl()}${path}`, {
    method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: AbortSignal.timeout(15_000)
  })
  const text = await response.text()
  let body: any = text
  try { body = text ? JSON.parse(text) : null } catch { /* not JSON: keep the text */ }
  return { status: response.status, body, headers: response.headers }
}

export async function newUser (prefix = 'e2e'): Promise<Client> {
  const username = `${prefix}_${randomBytes(5).toString('hex')}`
  const password = `pw-${randomBytes(8).toString('hex')}`
  const registered = await call('POST', '/api/auth/register', { body: { username, password } })
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`)
  const response = await fetch(`${baseUrl()}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password })
  })
  if (response.status !== 200) throw new Error(`login: ${response.status}`)
  const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('polls.sid='))
  if (!cookie) throw new Error('login set no session cookie')
  return { username, password, cookie }
}

export async function newPoll (owner: Client, choices = ['red', 'green', 'blue']) {
  const created = await call('POST', '/api/polls', { cookie: owner.cookie, body: { question: 'Which colour?', choices } })
  if (created.status !== 201) throw new Error(`create poll: ${created.status} ${JSON.stringify(created.body)}`)
  return created.body as { id: string, choices: Array<{ id: string }> }
}

interface ContainerInfo { ID: string, Name: string, Service: string, State: string, Health: string, Publishers: Array<{ URL: string, TargetPort: number, PublishedPort: number }> | null }

export async function containers (service?: string): Promise<ContainerInfo[]> {
  const out = await stack(['ps', '--format', 'json', ...(service ? [service] : [])])
  return out.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as ContainerInfo)
}

// A replica's socket is named after its hostname: the first 12 characters of its id.
export async function liveReplicaSockets (): Promise<string[]> {
  const replicas = (await containers('app')).filter((c) => c.State === 'running' && c.Health === 'healthy')
  return replicas.map((c) => `unix:/run/polls/${c.ID.slice(0, 12)}.sock`).sort()
}

export async function waitForHealthyReplicas (count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const replicas = await containers('app')
    if (replicas.length === count && replicas.every((c) => c.State === 'running' && c.Health === 'healthy')) return
    await sleep(500)
  }
  throw new Error(`not ${count} healthy replicas within ${timeoutMs} ms: ${JSON.stringify((await containers('app')).map((c) => [c.Name, c.State, c.Health]))}`)
}

export interface AccessLogLine { request_id: string, uri: string, status: number, upstream: string }

export async function nginxLog (): Promise<AccessLogLine[]> {
  const nginx = (await containers('nginx'))[0]
  if (!nginx) throw new Error('no nginx container')
  const out = await docker(['logs', nginx.ID])
  return out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as AccessLogLine)
}

// The replica sockets that served the given requests, as nginx logged them. nginx buffers
// its access log for up to a second, so this waits until every request is in it.
export async function upstreamsOf (requestIds: string[]): Promise<string[]> {
  const wanted = new Set(requestIds)
  let lines = (await nginxLog()).filter((line) => wanted.has(line.request_id))
  for (const deadline = Date.now() + 5000; lines.length < wanted.size && Date.now() < deadline;) {
    await sleep(200)
    lines = (await nginxLog()).filter((line) => wanted.has(line.request_id))
  }
  // Several upstreams ("a, b") when nginx passed a request on to the next replica.
  return lines.flatMap((line) => line.upstream.split(/, | : /)).filter(Boolean)
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
