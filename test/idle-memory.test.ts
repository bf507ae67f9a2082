import { setImmediate as nextTurn } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { releaseMemoryWhenIdle } from '../app/idle-memory.js'

// app/idle-memory.ts in this test process: the heap a load grew is given back once the event
// loop is idle, and never while it is busy.
interface Release { at: number, heapBeforeMb: number, heapAfterMb: number }

let stop = () => {}
afterEach(() => stop())

function watchReleases (): Release[] {
  const releases: Release[] = []
  const release = releaseMemoryWhenIdle({
    everyMs: 100,
    log: {
      info: (fields) => { releases.push({ at: Date.now(), ...(fields as Omit<Release, 'at'>) }) },
      warn: (fields) => { throw new Error(`release failed: ${JSON.stringify(fields)}`) }
    }
  })
  stop = release.stop
  return releases
}

// Tens of megabytes that live long enough to reach the old space, then become garbage.
function growHeap (): void {
  const load = Array.from({ length: 400_000 }, (_, i) => ({ i, text: `entry ${i}`.repeat(4) }))
  expect(load.length).toBe(400_000)
}

describe('idle memory', () => {
  it('gives back the heap that garbage grew, once the event loop is idle', async () => {
    growHeap()
    const releases = watchReleases()
    await expect.poll(() => releases.length).toBeGreaterThan(0)
    expect(releases[0]!.heapAfterMb).toBeLessThan(releases[0]!.heapBeforeMb)
  })

  it('waits while the event loop is busy', async () => {
    growHeap()
    const releases = watchReleases()
    // Busy for 1.5 s: work in short slices, with no pause in between.
    const busyUntil = Date.now() + 1500
    while (Date.now() < busyUntil) {
      const sliceEnd = Math.min(Date.now() + 50, busyUntil)
      while (Date.now() < sliceEnd) Math.sqrt(Math.random())
      await nextTurn()
    }
    const busyEnded = Date.now()
    expect(releases).toEqual([])
    await expect.poll(() => releases.length).toBeGreaterThan(0)
    expect(releases[0]!.at).toBeGreaterThanOrEqual(busyEnded)
  })
})
