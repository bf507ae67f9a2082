import { Type } from 'typebox'
import { Id, errors } from '../schemas/common.js'

export const Credentials = Type.Object({
  username: Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' }),
  password: Type.String({ minLength: 8, maxLength: 256 })
}, { additionalProperties: false })

export const UserResponse = Type.Object({ id: Id, username: Type.String() })

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
  response: { 204: Type.Null(), ...errors(403, 503) }
}

export const meSchema = {
  tags: ['auth'],
  response: { 200: UserResponse, ...errors(401, 503) }
}
