import { describe, expect, it } from 'vitest'
import { explanations, type Report, type Run, targets } from '../bench/report.js'

// The bench's report states, from a run's own figures, why a target was not met.

const typicalRun = { replicas: 4, requestsPerSecond: 1000, requests: 10_000, errors: 0, p50Ms: 2, p99Ms: 10, maxMs: 20, generatorCores: 0.3, machineCores: 1.5 }
const measured = (scenario: string, via: Run['via'], figures: Partial<Run> = {}): Run =>
  ({ ...typicalRun, scenario, via, cpuMsPerRequest: { 'docker-proxy': 0.1, nginx: 0.1, app: 0.2 }, ...figures })

const report = (runs: Run[]): Report => ({
  startedAt: '2026-12-07T00:00:00Z',
  smoke: false,
  machine: { cpu: 'test CPU', cores: 2, memoryGb: 24, loadBefore: 0.5, loadAfter: 1 },
  generator: 'wrk',
  runs,
  cost: {}
})

const pacedRead = (explained: string[]) => explained.find((line) => line.startsWith('read p99 at 70 %'))

describe('the bench report', () => {
  it('names the published path when only the published read misses its p99 at 70 % of peak', () => {
    const figures = report([measured('read@70%', 'published', { p99Ms: 60 }), measured('read@70%', 'inside', { p99Ms: 12 })])
    expect(targets(figures).find((t) => t.name.startsWith('read p99'))).toMatchObject({ value: '60.00 ms, 0 errors', met: false })
    expect(pacedRead(explanations(figures))).toMatch(/60\.00 ms through the published port, 12\.00 ms from inside.*The tail is the published path/)
  })

  it('names the shared cores when the read from inside misses too', () => {
    const figures = report([measured('read@70%', 'published', { p99Ms: 60 }), measured('read@70%', 'inside', { p99Ms: 40 })])
    expect(pacedRead(explanations(figures))).toMatch(/The tail is the shared cores/)
  })

  it('explains nothing that was met', () => {
    const figures = report([measured('read@70%', 'published', { p99Ms: 20 }), measured('read@70%', 'inside', { p99Ms: 5 })])
    expect(targets(figures).find((t) => t.name.startsWith('read p99'))?.met).toBe(true)
    expect(pacedRead(explanations(figures))).toBeUndefined()
  })

  it('names the next lever for Node CPU per vote from the run\'s own figures', () => {
    const figures = report([measured('read', 'published', { cpuMsPerRequest: { app: 0.2 } }), measured('vote', 'published', { cpuMsPerRequest: { app: 0.9 } })])
    expect(targets(figures).find((t) => t.name.startsWith('Node CPU per vote'))).toMatchObject({ value: '4.5x (0.90 vs 0.20 ms)', met: false })
    expect(explanations(figures).find((line) => line.startsWith('Node CPU per vote'))).toMatch(/costs 0\.90 ms: three round trips.*the next lever is/)
  })

  it('gives a profile\'s share for an area it lists, and a bound for one below its list', () => {
    const figures = {
      ...report([measured('read', 'published', { cpuMsPerRequest: { app: 0.2 } }), measured('vote', 'published', { cpuMsPerRequest: { app: 0.9 } })]),
      voteProfile: { sampledMs: 1000, byArea: [{ name: 'mysql2', share: 0.05 }, { name: 'ioredis', share: 0.012 }], byFunction: [{ name: 'writeUtf8String (native)', share: 0.2 }] }
    }
    const explained = explanations(figures).find((line) => line.startsWith('Node CPU per vote'))
    expect(explained).toMatch(/20\.0 % of its busy time in writes to sockets/)
    expect(explained).toMatch(/under 1\.2 % in drizzle-orm/)
    expect(explained).toMatch(/5\.0 % in mysql2/)
  })

  it('names the next lever for a replica\'s memory from the sweep: a V8 setting if one reaches the target, else what the heap holds', () => {
    const memory = (sweep: NonNullable<Report['memorySweep']>) => explanations({
      ...report([]),
      cost: { afterLoadRssMb: [139, 124], loadedFileBackedMb: [55, 54], idleRssMb: [97, 96] },
      memorySweep: sweep
    }).find((line) => line.startsWith('replica memory'))
    const image = { nodeOptions: '--max-semi-space-size=16', rssMb: 132, readPerSecond: 9000, votePerSecond: 800, errors: 0 }
    // 8 MB less at 95 % of the throughput; 20 MB less, but at 60 % of the ballots.
    const heapBound = memory([image, { ...image, nodeOptions: 'a', rssMb: 124, readPerSecond: 8600 }, { ...image, nodeOptions: 'b', rssMb: 112, votePerSecond: 480 }])
    expect(heapBound).toMatch(/139\.0 MB, 124\.0 MB after the load runs.*A new replica idles at 96\.0 MB\. .*V8's settings take 8\.0 MB off a replica.*the next lever is what the heap holds/)
    const settingBound = memory([image, { ...image, nodeOptions: '--max-semi-space-size=4', rssMb: 118, readPerSecond: 8200 }])
    expect(settingBound).toMatch(/reaches 118\.0 MB with `--max-semi-space-size=4` within 10 % of the image's throughput: that setting is the next lever/)
  })
})
