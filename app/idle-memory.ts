import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

// V8 keeps the heap it grew at start and under load: with no allocation there is no
// collection, so the young generation and emptied old-space pages stay resident however long
// the process then idles (a replica after 2,000 ballots: 211 MB, unchanged 80 s later).
// Its ordinary full collection (global.gc) does not give them back either; the
// memory-reducing one the DevTools protocol asks for does (that replica: 138 MB). So once
// the event loop is nearly idle and the heap has grown since the last such collection, one
// is run through an in-process inspector session (no port is opened). It blocks the loop
// for tens of milliseconds, and only ever on an idle process.

// How often a process looks whether it is idle (app/server.ts).
export const IDLE_CHECK_MS = 10_000
// Busy below this share of the last interval counts as idle.
const IDLE_UTILIZATION = 0.05
// Growth of V8's committed heap that is worth a collection.
const GROWTH_BYTES = 16 * 1024 * 1024

export interface IdleMemoryLog {
  info: (fields: object, message: string) => void
  warn: (fields: object, message: string) => void
}

export function releaseMemoryWhenIdle ({ everyMs, log }: { everyMs: number, log: IdleMemoryLog }): { stop: () => void } {
  let lastUtilization = performance.eventLoopUtilization()
  // The first idle moment also returns what the start left behind.
  let heapAfterRelease = 0
  let releasing = false

  const release = async () => {
    const session = new Session()
    session.connect()
    try {
      await session.post('HeapProfiler.collectGarbage')
    } finally {
      session.disconnect()
    }
  }

  const timer = setInterval(() => {
    const { utilization } = performance.eventLoopUtilization(lastUtilization)
    lastUtilization = performance.eventLoopUtilization()
    const heapBefore = getHeapStatistics().total_heap_size
    if (releasing || utilization > IDLE_UTILIZATION || heapBefore < heapAfterRelease + GROWTH_BYTES) return
    releasing = true
    release().then(() => {
      heapAfterRelease = getHeapStatistics().total_heap_size
      log.info({ heapBeforeMb: megabytes(heapBefore), heapAfterMb: megabytes(heapAfterRelease) }, 'idle: returned unused heap memory')
    }, (error: unknown) => {
      log.warn({ err: error }, 'idle: returning unused heap memory failed')
    }).finally(() => {
      releasing = false
      lastUtilization = performance.eventLoopUtilization()
    })
  }, everyMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

function megabytes (bytes: number): number {
  return Math.round(bytes / 1024 / 1024)
}
