import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'

// Where log lines go: stdout unless given (the tests read them).
export interface LogStream {
  write: (line: string) => void
}

// The app's pino options. Errors are logged with what helps to find a fault (type, message,
// code, the SQL text, the Redis command's name, the cause) and never with what a statement or
// command carried: drizzle's errors hold the query's parameters (a password hash at
// registration), ioredis's hold the command's arguments (a session's key and contents).
export function loggerOptions (config: Config, stream?: LogStream): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level: config.LOG_LEVEL,
    serializers: { err: loggableError },
    // Belt and braces: nothing above logs headers or bodies, but if something ever does,
    // credentials still never reach a log line.
    redact: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', '*.password'],
    ...(stream ? { stream } : {})
  }
}

interface ErrorFields {
  name?: unknown
  message?: unknown
  stack?: unknown
  code?: unknown
  errno?: unknown
  sqlState?: unknown
  statusCode?: unknown
  query?: unknown
  command?: { name?: unknown }
  cause?: unknown
}

const MAX_CAUSES = 5

interface LoggedError {
  type: string
  message: string
  stack: string
  [field: string]: unknown
}

export function loggableError (error: unknown, depth = 0): LoggedError {
  if (typeof error !== 'object' || error === null) return { type: typeof error, message: String(error), stack: '' }
  const e = error as ErrorFields
  const logged: LoggedError = {
    type: typeof e.name === 'string' ? e.name : 'Error',
    message: withoutParameters(String(e.message ?? '')),
    stack: typeof e.stack === 'string' ? withoutParameters(e.stack) : ''
  }
  for (const key of ['code', 'errno', 'sqlState', 'statusCode'] as const) {
    if (typeof e[key] === 'string' || typeof e[key] === 'number') logged[key] = e[key]
  }
  // drizzle's statement text, with placeholders; mysql2's own `sql` has the values filled in.
  if (typeof e.query === 'string') logged.sql = e.query
  if (typeof e.command?.name === 'string') logged.command = e.command.name
  if (e.cause !== undefined && depth < MAX_CAUSES) logged.cause = loggableError(e.cause, depth + 1)
  return logged
}

// drizzle writes a failed query as "Failed query: <sql>\nparams: <values>".
function withoutParameters (text: string): string {
  return text.replace(/\nparams: [^\n]*/g, '\nparams: (not logged)')
}
