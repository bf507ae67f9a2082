import { type Static, Type } from 'typebox'
import { Id, NoContent, errors } from './common.js'

// The cookie that carries the signed session id.
export const SESSION_COOKIE = 'polls.sid'

export const Credentials = Type.Object({
  username: Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' }),
  password: Type.String({ minLength: 8, maxLength: 256 })
}, { additionalProperties: false })

export const UserResponse = Type.Object({ id: Id, username: Type.String() })
export type UserResponse = Static<typeof UserResponse>

// Routes that need a logged-in user say so in the OpenAPI document.
export const signedIn = [{ session: [] }]

export const registerSchema = {
  tags: ['auth'],
  body: Credentials,
  response: { 201: UserResponse, ...errors(400, 403, 409, 413, 415, 429, 503) }
}

export const loginSchema = {
  tags: ['auth'],
  body: Credentials,
  response: { 200: UserResponse, ...errors(400, 401, 403, 413, 415, 429, 503) }
}

export const logoutSchema = {
  tags: ['auth'],
  response: { 204: NoContent, ...errors(403, 503) }
}

export const meSchema = {
  tags: ['auth'],
  security: signedIn,
  response: { 200: UserResponse, ...errors(401, 503) }
}
