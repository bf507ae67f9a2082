import { Type } from 'typebox'

// Ids are decimal strings in the API, and a pattern check turns a malformed id into a 400
// before any query runs. At most 15 digits: every such id is a safe JavaScript integer
// (below 2^53) and fits the database's BIGINT UNSIGNED, so none is ever rounded to another.
export const Id = Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'numeric id as a string (1 to 15 digits)' })

export const IdParams = Type.Object({ id: Id }, { additionalProperties: false })

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  requestId: Type.Optional(Type.String())
}, { $id: 'ErrorResponse', description: 'The shape of every error' })

export const ErrorRef = Type.Ref('ErrorResponse')

export function errors (...codes: number[]): Record<number, typeof ErrorRef> {
  return Object.fromEntries(codes.map((code) => [code, ErrorRef]))
}

export const NoContent = Type.Null({ description: 'No content' })
