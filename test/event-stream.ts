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
    let buffer = ''
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
            else if (line.startsWith('retry: ')) retries.push(Number(line.slice(7)))
          }
          if (data.length > 0) events.push({ event, data: data.join('\n'), receivedAt: Date.now() })
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
