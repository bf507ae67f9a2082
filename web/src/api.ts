// Calls the API on the same origin. Every failure becomes an ApiError whose message can be
// shown to a person: the API's own message for a 4xx, a plain explanation otherwise.
// The API's types are the server's own, derived from its schemas; type-only imports, so
// nothing of the server reaches the bundle.
import type { UserResponse as User } from '../../app/schemas/auth.js'
import type { NewPoll, PollDetail, PollPage, PollSummary, Tally, Visibility } from '../../app/schemas/polls.js'

export type { NewPoll, PollDetail, PollPage, PollSummary, Tally, User, Visibility }

export class ApiError extends Error {
  constructor (readonly status: number, message: string, readonly field?: string) {
    super(message)
    this.name = 'ApiError'
  }

  // A lost connection or a server-side failure: worth offering a retry.
  get retryable (): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429
  }
}

async function request<T> (method: string, path: string, body?: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.')
  }
  if (response.status === 204) return undefined as T
  const payload = await response.json().catch(() => null) as { message?: string } | null
  if (response.ok) return payload as T
  if (response.status >= 500) {
    throw new ApiError(response.status, payload?.message && response.status === 503 ? payload.message : 'Something went wrong on the server. Please try again.')
  }
  const message = payload?.message ?? `Request failed (${response.status})`
  // Validation messages name the field: "body/username must match pattern ...".
  const field = /^body\/(\w+)/.exec(message)?.[1]
  throw new ApiError(response.status, humanize(message), field)
}

function humanize (message: string): string {
  return message.replace(/^body\/(\w+) /, (_match, field: string) => `${field[0]!.toUpperCase()}${field.slice(1)} `)
    .replace(/must match pattern "[^"]*"/, 'may only use letters, digits, _ and -')
}

export const api = {
  me: () => request<User>('GET', '/api/auth/me'),
  register: (username: string, password: string) => request<User>('POST', '/api/auth/register', { username, password }),
  login: (username: string, password: string) => request<User>('POST', '/api/auth/login', { username, password }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  listPolls: (cursor?: string) => request<PollPage>('GET', `/api/polls?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
  getPoll: (id: string) => request<PollDetail>('GET', `/api/polls/${encodeURIComponent(id)}`),
  createPoll: (poll: NewPoll) => request<PollDetail>('POST', '/api/polls', poll),
  vote: (id: string, choiceIds: string[]) => request<Tally>('POST', `/api/polls/${encodeURIComponent(id)}/votes`, { choiceIds }),
  closePoll: (id: string) => request<void>('POST', `/api/polls/${encodeURIComponent(id)}/close`),
  deletePoll: (id: string) => request<void>('DELETE', `/api/polls/${encodeURIComponent(id)}`)
}
