import { sseParser } from '../support/sse.js'

// A minimal server-sent events client for tests: reads a real HTTP stream and lets a test
// wait, with a deadline, for the next event that matches.
export interface StreamEvent {
  event: string
  data: string
  receivedAt: number
}

export interface EventStreamClient {
  events: StreamEvent[]
  comments: string[]
  retries: number[]
  ended: Promise<void>
  status: number
  next: (event: string, timeoutMs: number, match?: (data: any) => boolean) => Promise<{ data: any, receivedAt: number }>
  close: () => void
}

export async function openEventStream (url: string, headers: Record<string, string> = {}): Promise<EventStreamClient> {
  const controller = new AbortController()
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const events: StreamEvent[] = []
  const comments: string[] = []
  const retries: number[] = []
  const waiters = new Set<() => void>()
  const notify = () => { for (const waiter of waiters) waiter() }

  const ended = (async () => {
    if (!response.body) return
    const decoder = new TextDecoder()
    const parse = sseParser()
    try {
      for await (const chunk of response.body) {
        for (const frame of parse(decoder.decode(chunk as Uint8Array, { stream: true }))) {
          comments.push(...frame.comments)
          if (frame.retry !== undefined) retries.push(frame.retry)
          if (frame.data !== undefined) events.push({ event: frame.event, data: frame.data, receivedAt: Date.now() })
          notify()
        }
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error
    } finally {
      notify()
    }
  })()

  let seen = 0
  const next: EventStreamClient['next'] = (event, timeoutMs, match = () => true) => new Promise((resolve, reject) => {
    let settled = false
    const check = () => {
      while (seen < events.length) {
        const candidate = events[seen++]!
        const data = JSON.parse(candidate.data)
        if (candidate.event === event && match(data)) {
          settled = true
          waiters.delete(check)
          clearTimeout(timer)
          resolve({ data, receivedAt: candidate.receivedAt })
          return
        }
      }
    }
    const timer = setTimeout(() => {
      if (settled) return
      waiters.delete(check)
      reject(new Error(`no '${event}' event within ${timeoutMs} ms; got: ${events.map((e) => e.event).join(', ')}`))
    }, timeoutMs)
    waiters.add(check)
    check()
  })

  return { events, comments, retries, ended, status: response.status, next, close: () => controller.abort() }
}
