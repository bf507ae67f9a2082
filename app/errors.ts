// Errors the app throws on purpose. The error handler turns each into Fastify's
// {statusCode, error, message} shape; anything else becomes a 500 that hides its details.
export class HttpError extends Error {
  constructor (readonly statusCode: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'HttpError'
  }
}

export const badRequest = (message: string) => new HttpError(400, message)
export const unauthorized = (message = 'Log in first') => new HttpError(401, message)
export const forbidden = (message: string) => new HttpError(403, message)
export const notFound = (message: string) => new HttpError(404, message)
export const conflict = (message: string) => new HttpError(409, message)
export const tooManyRequests = (retryAfterSeconds: number, what = 'Too many requests') =>
  new HttpError(429, `${what}; try again in ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) })

// A dependency (MySQL or Redis) did not answer: the request fails fast with 503, and the
// next request tries again, so the service recovers by itself when the dependency returns.
export class DependencyUnavailableError extends HttpError {
  constructor (readonly dependency: 'mysql' | 'redis', override readonly cause: unknown) {
    super(503, `${dependency} is unavailable; try again shortly`, { 'retry-after': '1' })
    this.name = 'DependencyUnavailableError'
  }
}
