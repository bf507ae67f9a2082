import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MysqlLiveness, MysqlUnavailableError } from '../db/liveness.js'

// The rules of db/liveness.ts on a clock the test moves: a MySQL that answers nothing is
// given up on after about 1.25 timeouts, one that answers slowly is not.
const TIMEOUT_MS = 1000

let liveness: MysqlLiveness
let pings: number

beforeEach(() => {
  vi.useFakeTimers()
  pings = 0
  liveness = new MysqlLiveness({
    // A ping that is never answered, as on a MySQL too starved to read its own connection.
    ping: () => { pings++; return new Promise(() => {}) },
    resetPing: () => {},
    timeoutMs: TIMEOUT_MS,
    busyLimitMs: 10 * TIMEOUT_MS
  })
})
afterEach(() => {
  liveness.stop()
  vi.useRealTimers()
})

// A statement that waits until the test ends, and what became of it so far.
function waitingStatement () {
  const outcome: { error?: unknown } = {}
  liveness.watch(() => new Promise<never>(() => {}), () => {}).catch((error: unknown) => { outcome.error = error })
  return outcome
}

describe('MySQL liveness', () => {
  it('fails every waiting statement once neither a statement nor a ping is answered for a timeout', async () => {
    const statement = waitingStatement()
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS)
    expect(pings).toBe(1)
    expect(statement.error).toBeUndefined()
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS / 4)
    expect(statement.error).toBeInstanceOf(MysqlUnavailableError)
    expect((statement.error as MysqlUnavailableError).code).toBe('MYSQL_NO_ANSWER')
    await expect(liveness.watch(async () => 'never run', () => {})).rejects.toBeInstanceOf(MysqlUnavailableError)
  })

  it('keeps statements waiting while others are answered, though the pings go unanswered', async () => {
    const statement = waitingStatement()
    // Other statements finish now and then, further apart than the quiet that starts a ping.
    for (let elapsed = 0; elapsed < 5 * TIMEOUT_MS; elapsed += TIMEOUT_MS / 2) {
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS / 2)
      await liveness.watch(async () => 'answered', () => {})
    }
    expect(pings).toBeGreaterThan(1)
    expect(statement.error).toBeUndefined()

    // Then nothing answers any more.
    await vi.advanceTimersByTimeAsync(2.5 * TIMEOUT_MS)
    expect((statement.error as MysqlUnavailableError).code).toBe('MYSQL_NO_ANSWER')
  })
})
