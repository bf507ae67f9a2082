import { randomBytes } from 'node:crypto'
import { inject } from 'vitest'

export const baseUrl = () => inject('stackUrl')

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
// test can find it in nginx's log and see which replica served it. `newConnection` sends it on
// a connection of its own, closed after the answer, instead of a kept-alive one.
// `base` sends it to another front door than the e2e stack's (a swarm node's nginx).
export interface CallOptions { cookie?: string, body?: unknown, requestId?: string, newConnection?: boolean, base?: string }

export async function call (method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'x-request-id': options.requestId ?? `e2e-${randomBytes(8).toString('hex')}` }
  if (options.cookie) headers.cookie = options.cookie
  if (options.newConnection) headers.connection = 'close'
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${options.base ?? baseUrl()}${path}`, {
    method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: AbortSignal.timeout(15_000)
  })
  const text = await response.text()
  let body: any = text
  try { body = text ? JSON.parse(text) : null } catch { /* not JSON: keep the text */ }
  return { status: response.status, body, headers: response.headers }
}

// Sends a request again once when its connection was closed before any answer: nginx closes
// idle connections, and ones it has just accepted, when it reloads for a new set of replicas.
// HTTP lets clients retry idempotent requests in exactly that case, as browsers do; the
// API's writes a client may resend this way say so (a ballot sent twice counts once: the
// second gets 409).
export async function callRetryingOnce (method: string, path: string, options: CallOptions = {}, onResend = () => {}): Promise<Reply> {
  try {
    return await call(method, path, options)
  } catch (error) {
    const reason = String(((error as Error).cause as Error | undefined)?.message ?? '')
    if (!/other side closed|ECONNRESET/.test(reason)) throw error
    onResend()
    return call(method, path, options)
  }
}

export const getRetryingOnce = (path: string, requestId?: string) => callRetryingOnce('GET', path, requestId ? { requestId } : {})

export async function newUser (prefix = 'e2e', base = baseUrl()): Promise<Client> {
  const username = `${prefix}_${randomBytes(5).toString('hex')}`
  const password = `pw-${randomBytes(8).toString('hex')}`
  const registered = await call('POST', '/api/auth/register', { body: { username, password }, base })
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`)
  const response = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password })
  })
  if (response.status !== 200) throw new Error(`login: ${response.status}`)
  const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('polls.sid='))
  if (!cookie) throw new Error('login set no session cookie')
  return { username, password, cookie }
}

export async function newPoll (owner: Client, choices = ['red', 'green', 'blue'], base?: string) {
  const created = await call('POST', '/api/polls', { cookie: owner.cookie, body: { question: 'Which colour?', choices }, base })
  if (created.status !== 201) throw new Error(`create poll: ${created.status} ${JSON.stringify(created.body)}`)
  return created.body as { id: string, choices: Array<{ id: string }> }
}
