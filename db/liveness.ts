import { setImmediate as nextTurn } from 'node:timers/promises'

// Tells a MySQL that does not answer at all from one that is merely busy.
//
// A fixed deadline per statement cannot: on a busy machine a statement can take longer than
// any short deadline, and cutting it off mid-transaction turns load into errors. So the
// statements run without a deadline of their own while MySQL shows it is alive: another
// statement finished lately, or else a ping on a connection of its own answers. When MySQL
// goes quiet for an eighth of the timeout while statements wait, it is pinged; a ping
// unanswered for the whole timeout, while no statement was answered either, means nobody is
// answering, and every waiting statement fails at once (the caller answers 503): at most
// about 1.25 timeouts after MySQL fell silent. While MySQL is down, statements fail without
// waiting, and the pings go on until one is answered. A statement still unanswered after many timeouts
// while pings pass fails too, as MySQL being busy beyond reason.

const CHECKS_PER_TIMEOUT = 8

export class MysqlUnavailableError extends Error {
  constructor (readonly code: 'MYSQL_NO_ANSWER' | 'MYSQL_BUSY', message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MysqlUnavailableError'
  }
}

export interface LivenessOptions {
  // Answers a trivial statement on a connection of its own, or throws.
  ping: () => Promise<void>
  // Drops the ping's connection after a ping it gave up on; the next ping opens a new one.
  resetPing: () => void
  timeoutMs: number
  // How long one statement may take while MySQL is alive but busy.
  busyLimitMs: number
}

interface Waiting {
  startedAt: number
  fail: (error: Error) => void
}

export class MysqlLiveness {
  private readonly waiting = new Set<Waiting>()
  private lastAnswer = Date.now()
  private down: MysqlUnavailableError | null = null
  private pinging = false
  private timer: NodeJS.Timeout | null = null
  private stopped = false

  constructor (private readonly options: LivenessOptions) {}

  // Runs one statement (or the wait for a connection). `abandon` runs if it is given up on,
  // to drop whatever it holds: its reply may still arrive, on a connection nobody may reuse.
  async watch<T> (work: () => Promise<T>, abandon: (settled: Promise<T>) => void): Promise<T> {
    if (this.down) throw this.down
    let entry!: Waiting
    const givenUp = new Promise<never>((_resolve, reject) => { entry = { startedAt: Date.now(), fail: reject } })
    const running = work()
    this.waiting.add(entry)
    this.schedule()
    try {
      const result = await Promise.race([running, givenUp])
      this.lastAnswer = Date.now()
      return result
    } catch (error) {
      if (error instanceof MysqlUnavailableError) abandon(running)
      // An error MySQL itself sent (a duplicate key, a deadlock) is an answer too; mysql2
      // marks the ones where the connection failed as fatal.
      else if (!(error as { fatal?: boolean }).fatal) this.lastAnswer = Date.now()
      throw error
    } finally {
      this.waiting.delete(entry)
    }
  }

  stop (): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule (): void {
    if (this.timer === null && !this.stopped) this.timer = setTimeout(() => { this.timer = null; void this.check() }, this.options.timeoutMs / CHECKS_PER_TIMEOUT)
  }

  private async check (): Promise<void> {
    const { timeoutMs, busyLimitMs } = this.options
    const now = Date.now()
    for (const entry of this.waiting) {
      if (now - entry.startedAt > busyLimitMs) {
        this.waiting.delete(entry)
        entry.fail(new MysqlUnavailableError('MYSQL_BUSY', `mysql: no result within ${busyLimitMs} ms, though it answers`))
      }
    }
    const quiet = now - this.lastAnswer >= timeoutMs / CHECKS_PER_TIMEOUT
    if ((this.down || (quiet && this.waiting.size > 0)) && !this.pinging) await this.probe()
    if (this.down || this.waiting.size > 0) this.schedule()
  }

  private async probe (): Promise<void> {
    this.pinging = true
    const startedAt = Date.now()
    try {
      await this.answered(this.options.ping(), this.options.timeoutMs)
      this.lastAnswer = Date.now()
      this.down = null
    } catch (error) {
      this.options.resetPing()
      // A statement answered while the ping waited: MySQL is busy, not silent.
      if (this.lastAnswer >= startedAt) return
      this.down = new MysqlUnavailableError('MYSQL_NO_ANSWER', `mysql: no answer within ${this.options.timeoutMs} ms`, { cause: error })
      for (const entry of this.waiting) entry.fail(this.down)
      this.waiting.clear()
    } finally {
      this.pinging = false
    }
  }

  // Whether `ping` settles within timeoutMs. When the timer fires, a reply that came in while
  // this process was too busy to read it is read first, so a starved event loop is not taken
  // for a silent MySQL.
  private async answered (ping: Promise<void>, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { void nextTurn().then(() => reject(new Error(`ping unanswered after ${timeoutMs} ms`))) }, timeoutMs)
    })
    try {
      await Promise.race([ping, timedOut])
    } finally {
      clearTimeout(timer)
    }
  }
}
