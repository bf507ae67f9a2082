import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { docker } from '../support/docker.js'

// What the stack's containers, and Docker's port proxy beside them, use of the machine: CPU
// time from each container's cgroup counters (exact however noisy the machine, unlike sampled
// percentages), and anonymous memory. Read from the Docker host's /sys/fs/cgroup, cgroup v1 or
// v2, with the cgroupfs or systemd driver.

export interface Tracked {
  // A compose service name, or 'docker-proxy' for Docker's userland port proxy (a host
  // process, not a container).
  group: string
  id: string
}

const cpuFiles = (id: string) => [
  [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'ns'],
  [`/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`, 'ns'],
  [`/sys/fs/cgroup/cpuacct/system.slice/docker-${id}.scope/cpuacct.usage`, 'ns'],
  [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, 'usage_usec'],
  [`/sys/fs/cgroup/docker/${id}/cpu.stat`, 'usage_usec']
] as const

const memoryFiles = (id: string) => [
  [`/sys/fs/cgroup/memory/docker/${id}/memory.stat`, 'total_rss'],
  [`/sys/fs/cgroup/memory/system.slice/docker-${id}.scope/memory.stat`, 'total_rss'],
  [`/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.stat`, 'anon'],
  [`/sys/fs/cgroup/docker/${id}/memory.stat`, 'anon']
] as const

const statField = (text: string, field: string) => Number(new RegExp(`^${field} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)

function containerCpuSeconds (id: string): number {
  for (const [file, unit] of cpuFiles(id)) {
    if (!existsSync(file)) continue
    const text = readFileSync(file, 'utf8')
    return unit === 'ns' ? Number(text) / 1e9 : statField(text, unit) / 1e6
  }
  throw new Error(`bench: no cgroup CPU counter found for container ${id.slice(0, 12)} under /sys/fs/cgroup (is this the Docker host?)`)
}

// The container's anonymous memory (what its processes hold, without the page cache), in MB.
export function containerMemoryMb (id: string): number {
  for (const [file, field] of memoryFiles(id)) {
    if (existsSync(file)) return statField(readFileSync(file, 'utf8'), field) / 2 ** 20
  }
  throw new Error(`bench: no cgroup memory counter found for container ${id.slice(0, 12)} under /sys/fs/cgroup`)
}

function processCpuSeconds (pid: string): number {
  try {
    // Fields 14 and 15 (utime, stime), after the parenthesised command name.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

function commandOf (pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

// Every running container of the project, by service, and each docker-proxy process.
export async function trackedOf (project: string): Promise<Tracked[]> {
  const stdout = await docker(['ps', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}} {{.Label "com.docker.compose.service"}}'])
  const containers = stdout.split('\n').filter(Boolean).map((line) => {
    const [id, group] = line.split(' ')
    return { id: id!, group: group! }
  })
  const proxies = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && commandOf(pid) === 'docker-proxy')
  return [...containers, ...proxies.map((pid) => ({ group: 'docker-proxy', id: pid }))]
}

const cpuSecondsOf = (tracked: Tracked) => tracked.group === 'docker-proxy' ? processCpuSeconds(tracked.id) : containerCpuSeconds(tracked.id)

// CPU seconds used by each group while `work` ran. Containers started or stopped meanwhile are
// not counted, so scale before measuring.
export async function withGroupCpu<T> (project: string, work: () => Promise<T>, extra: Tracked[] = []): Promise<{ result: T, cpuSeconds: Record<string, number> }> {
  const tracked = [...await trackedOf(project), ...extra]
  const before = tracked.map(cpuSecondsOf)
  const result = await work()
  const cpuSeconds: Record<string, number> = {}
  tracked.forEach((item, i) => {
    let used = 0
    try {
      used = cpuSecondsOf(item) - before[i]!
    } catch {
      // Gone since (a one-off container): its time is lost with it.
    }
    cpuSeconds[item.group] = (cpuSeconds[item.group] ?? 0) + used
  })
  return { result, cpuSeconds }
}
