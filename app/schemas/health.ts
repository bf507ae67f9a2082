import { type Static, Type } from 'typebox'

export const Dependency = Type.Union([Type.Literal('mysql'), Type.Literal('redis')])
export type Dependency = Static<typeof Dependency>

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable'), Type.Literal('shutting down')]),
  failed: Type.Array(Dependency)
})

// Both answer the proxy and the healthcheck inside the stack, not the public API.
export const livenessSchema = {
  hide: true,
  response: { 200: Type.Object({ status: Type.Literal('ok') }) }
}

export const readinessSchema = {
  hide: true,
  response: { 200: Readiness, 503: Readiness }
}
