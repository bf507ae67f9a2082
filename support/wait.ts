import { setTimeout as sleep } from 'node:timers/promises'

// Whether `condition` came true within `timeoutMs`, checked every `intervalMs`. For code
// outside Vitest (the bench); tests wait with expect.poll and vi.waitFor.
export async function waitUntil (condition: () => boolean | Promise<boolean>, { timeoutMs, intervalMs }: { timeoutMs: number, intervalMs: number }): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return true
    if (Date.now() >= deadline) return false
    await sleep(intervalMs)
  }
}
