// A CPU profile of a running replica, and what it says. Run inside a container that shares the
// replica's network namespace (bench/run.ts does, after SIGUSR1 opened the replica's inspector
// on its own 127.0.0.1), with Node's type stripping and no dependencies:
//   node bench/cpu-profile.ts SECONDS
// Prints the profile (the .cpuprofile format, which Chrome's DevTools opens as a flame chart).
import { fileURLToPath } from 'node:url'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame }
export interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

export interface ProfileCost { name: string, share: number }
export interface ProfileSummary { sampledMs: number, byArea: ProfileCost[], byFunction: ProfileCost[] }

// Where a function's code lives: a package, the app's own file, Node's internals, or V8's
// pseudo-frames (garbage collection, code outside JavaScript).
function areaOf ({ functionName, url }: CallFrame): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  const own = /\/dist\/(.+)\.js$/.exec(url)
  if (own) return own[1]!
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  if (url === '') return functionName.startsWith('(') ? functionName : 'native'
  return url
}

// Self time by area and by function, as shares of the time the process was not idle.
export function summariseProfile (profile: CpuProfile, top = 12): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const byArea = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let busyUs = 0
  profile.samples.forEach((nodeId, i) => {
    const frame = frames.get(nodeId)!
    const us = profile.timeDeltas[i] ?? 0
    if (frame.functionName === '(idle)') return
    busyUs += us
    const area = areaOf(frame)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
    const name = `${frame.functionName || '(anonymous)'} (${area}${frame.url ? `:${frame.lineNumber + 1}` : ''})`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
  })
  const ranked = (costs: Map<string, number>) => [...costs].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => ({ name, share: busyUs === 0 ? 0 : us / busyUs }))
  return { sampledMs: busyUs / 1000, byArea: ranked(byArea), byFunction: ranked(byFunction) }
}

// The inspector opens a moment after SIGUSR1.
async function inspectorTarget (): Promise<{ webSocketDebuggerUrl: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const [target] = await (await fetch('http://127.0.0.1:9229/json/list')).json() as Array<{ webSocketDebuggerUrl: string }>
      if (target) return target
    } catch {
      // Not listening yet.
    }
    if (attempt === 50) throw new Error('cpu-profile: no inspector on 127.0.0.1:9229 after 10 s')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

// The DevTools protocol over the inspector's WebSocket: start the profiler, wait, stop it.
async function profileFor (seconds: number): Promise<CpuProfile> {
  const target = await inspectorTarget()
  const socket = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true })
    socket.addEventListener('error', () => reject(new Error('cpu-profile: cannot connect to the inspector')), { once: true })
  })
  const pending = new Map<number, (result: any) => void>()
  socket.addEventListener('message', (message) => {
    const { id, result } = JSON.parse(String(message.data)) as { id?: number, result?: unknown }
    if (id !== undefined) pending.get(id)?.(result)
  })
  let lastId = 0
  const call = (method: string, params: object = {}) => new Promise<any>((resolve) => {
    const id = ++lastId
    pending.set(id, resolve)
    socket.send(JSON.stringify({ id, method, params }))
  })
  await call('Profiler.enable')
  await call('Profiler.setSamplingInterval', { interval: 200 })
  await call('Profiler.start')
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const { profile } = await call('Profiler.stop')
  socket.close()
  return profile as CpuProfile
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(JSON.stringify(await profileFor(Number(process.argv[2] ?? 10))) + '\n')
}
