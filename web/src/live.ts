import type { Tally } from './api.js'

export type LiveStatus = 'live' | 'reconnecting'

export interface LiveHandlers {
  tally: (tally: Tally) => void
  closed: (tally: Tally) => void
  deleted: () => void
  status: (status: LiveStatus) => void
}

// Follows a poll's event stream. EventSource reconnects by itself after a dropped connection;
// when it gives up (the server answered with an error), this opens a new one after a growing
// delay. Returns the function that stops following.
export function followPoll (pollId: string, handlers: LiveHandlers): () => void {
  let source: EventSource | null = null
  let retryTimer: number | undefined
  let attempt = 0
  let stopped = false

  const open = () => {
    source = new EventSource(`/api/polls/${encodeURIComponent(pollId)}/events`)
    source.addEventListener('open', () => { attempt = 0; handlers.status('live') })
    source.addEventListener('tally', (event) => handlers.tally(JSON.parse((event as MessageEvent<string>).data) as Tally))
    source.addEventListener('closed', (event) => {
      stop()
      handlers.closed(JSON.parse((event as MessageEvent<string>).data) as Tally)
    })
    source.addEventListener('deleted', () => { stop(); handlers.deleted() })
    source.addEventListener('error', () => {
      if (stopped) return
      handlers.status('reconnecting')
      if (source?.readyState === EventSource.CLOSED) {
        source = null
        attempt++
        retryTimer = window.setTimeout(open, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5)))
      }
    })
  }

  const stop = () => {
    stopped = true
    window.clearTimeout(retryTimer)
    source?.close()
    source = null
  }

  open()
  return stop
}
