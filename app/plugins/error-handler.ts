import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { isMysqlUnavailable } from '../../db/client.js'
import { DependencyUnavailableError, HttpError } from '../errors.js'

// One error shape for every failure: {statusCode, error, message, requestId}. Client errors
// keep their message; a 5xx says only what a client can act on, and the details go to the log.
export default fp(async (app) => {
  app.setErrorHandler((rawError: FastifyError | HttpError, request, reply) => {
    let error: FastifyError | HttpError = rawError
    if (!(error instanceof HttpError) && isMysqlUnavailable(error)) {
      error = new DependencyUnavailableError('mysql', error)
    }
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (error instanceof HttpError) reply.headers(error.headers)

    if (statusCode >= 500) {
      request.log.error({ err: error instanceof DependencyUnavailableError ? error.cause : error }, error.message)
    }
    const message = statusCode >= 500 && !(error instanceof DependencyUnavailableError)
      ? 'Something went wrong on our side; try again'
      : error.message
    return reply.status(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, requestId: request.id })
  })

  app.setNotFoundHandler((request, reply) => {
    return reply.status(404).send({
      statusCode: 404, error: 'Not Found', message: `No route ${request.method} ${request.url.split('?')[0]}`, requestId: request.id
    })
  })
}, { name: 'error-handler' })
