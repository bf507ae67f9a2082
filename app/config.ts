import { readFileSync } from 'node:fs'
import { type Static, type TObject, Type } from 'typebox'
import { Value } from 'typebox/value'

// The one place that reads process.env. Every value is a string there; the schema converts,
// applies defaults, and the type below is derived from it, so the two cannot drift apart.
export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ pattern: '^mysql://[^/]+/[A-Za-z0-9_]+$', description: 'mysql://user:pass@host:port/db' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://.+', description: 'redis://host:port' }),
  REDIS_SOCKET: Type.Optional(Type.String({ pattern: '^/', description: 'a unix socket to reach Redis through, in place of REDIS_URL\'s host and port (its credentials still apply); unset: TCP' })),
  SESSION_SECRET: Type.String({ minLength: 32, description: 'signs the session cookie; at least 32 characters' }),
  CORS_ORIGINS: Type.String({ default: '', description: 'comma-separated origins allowed to call the API with credentials' }),
  SOCKET_MODE: Type.String({ default: '660', pattern: '^[0-7]{3,4}$', description: 'octal file mode of the unix socket' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' }
  ),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 0, maximum: 600_000 }),
  TRUST_PROXY: Type.String({
    default: 'loopback',
    description: 'when listening on a port: proxy addresses (proxy-addr syntax) whose X-Forwarded-* headers are believed'
  }),
  SESSION_TTL_SECONDS: Type.Integer({ default: 7 * 24 * 3600, minimum: 60 }),
  AUTH_RATE_LIMIT_PER_IP: Type.Integer({ default: 30, minimum: 1, description: 'login/register attempts per client address per window' }),
  AUTH_RATE_LIMIT_PER_USERNAME: Type.Integer({ default: 10, minimum: 1, description: 'login/register attempts per username from one address per window' }),
  AUTH_RATE_LIMIT_PER_ACCOUNT: Type.Integer({ default: 100, minimum: 1, description: 'login/register attempts per username from all addresses together per window' }),
  AUTH_RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 60, minimum: 1 }),
  POLLS_PER_ACCOUNT_PER_HOUR: Type.Integer({ default: 60, minimum: 1, description: 'polls one account may create per hour' }),
  SSE_HEARTBEAT_MS: Type.Integer({ default: 15_000, minimum: 50, maximum: 15_000 }),
  SSE_STREAMS_PER_CLIENT: Type.Integer({ default: 100, minimum: 1, description: 'event streams one client address may hold open on one instance' }),
  SSE_STREAMS_PER_REPLICA: Type.Integer({ default: 4000, minimum: 1, description: 'event streams one instance holds open at most' }),
  DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
  DEPENDENCY_TIMEOUT_MS: Type.Integer({ default: 1000, minimum: 50, maximum: 30_000, description: 'how long a MySQL or Redis call may take before the request fails with 503' }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'port of a second listener that serves only /metrics (Prometheus text); unset: none' })),
  METRICS_HOST: Type.String({ default: '127.0.0.1', description: 'address the metrics listener binds to' })
})

export type Config = Static<typeof ConfigSchema>

// The migrator needs only the database, and connects as a more privileged user.
export const MigrateConfigSchema = Type.Pick(ConfigSchema, ['DATABASE_URL'])

export class ConfigError extends Error {
  override name = 'ConfigError'
}

// Parses the environment; throws a ConfigError naming every missing or bad variable.
// NAME_FILE may stand in for any NAME, so secrets can come from mounted files rather than
// from variables that `docker inspect` shows.
export function loadConfig (env?: NodeJS.ProcessEnv): Config
export function loadConfig<S extends TObject> (env: NodeJS.ProcessEnv, schema: S): Static<S>
export function loadConfig (env: NodeJS.ProcessEnv = process.env, schema: TObject = ConfigSchema): unknown {
  const known: Record<string, string> = {}
  for (const key of Object.keys(schema.properties)) {
    const value = valueOrFile(env, key)
    if (value !== undefined && value !== '') known[key] = value
  }
  const withDefaults = Value.Convert(schema, Value.Default(schema, known))
  const problems = [...Value.Errors(schema, withDefaults)].map((error) => {
    const name = error.instancePath.replace(/^\//, '') || missingProperty(error.params)
    return `${name}: ${name && !(name in known) ? 'is required' : error.message}`
  })
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`)
  }
  return withDefaults
}

function valueOrFile (env: NodeJS.ProcessEnv, key: string): string | undefined {
  const file = env[`${key}_FILE`]
  if (!file) return env[key]
  if (env[key]) throw new ConfigError(`invalid configuration: both ${key} and ${key}_FILE are set`)
  try {
    return readFileSync(file, 'utf8').trim()
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${key}_FILE: cannot read ${file} (${(error as Error).message})`)
  }
}

function missingProperty (params: unknown): string {
  const p = params as { requiredProperties?: string[] } | undefined
  return p?.requiredProperties?.join(', ') ?? ''
}

export function corsOrigins (config: Config): string[] {
  return config.CORS_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean)
}
