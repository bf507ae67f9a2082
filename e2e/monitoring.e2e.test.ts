import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker } from '../support/docker.js'
import { run } from '../support/run.js'
import { call, newPoll, newUser } from './client.js'
import { containerOf, containers, stack, waitForHealthyReplicas } from './stack.js'
import { expectRoutedToLiveReplicas } from './under-load.js'

// The monitoring profile on the shared e2e stack: Prometheus is started for this file only and
// removed at the end, so the other files see the stack as it runs by default.

const projectName = inject('stackProject').name
const METRICS_PORT = 9464

// Port 0: Docker picks a free port of 127.0.0.1 for Prometheus's UI.
const monitoring = (args: string[]) => stack(['--profile', 'monitoring', ...args], { PROMETHEUS_PORT: '0' })
let prometheusUrl = ''

async function prometheus<T> (path: string): Promise<T> {
  const response = await fetch(`${prometheusUrl}${path}`, { signal: AbortSignal.timeout(10_000) })
  expect(response.status, path).toBe(200)
  return ((await response.json()) as { data: T }).data
}

// The first value of a PromQL query's result, or undefined when it has none.
async function query (promql: string): Promise<number | undefined> {
  const { result } = await prometheus<{ result: Array<{ value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)
  return result[0] ? Number(result[0].value[1]) : undefined
}

// Prometheus's app targets, as "address health".
async function appTargets (): Promise<string[]> {
  const { activeTargets } = await prometheus<{ activeTargets: Array<{ labels: Record<string, string>, health: string }> }>('/api/v1/targets?state=active')
  return activeTargets.filter((target) => target.labels.job === 'app').map((target) => `${target.labels.instance} ${target.health}`).sort()
}

// What appTargets must be once Prometheus has scraped every replica: each one's address on the
// metrics network, up.
async function everyReplicaUp (): Promise<string[]> {
  const ids = (await containers('app')).map((container) => container.ID)
  const addresses = await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${projectName}_metrics").IPAddress}}`, ...ids])
  return addresses.trim().split('\n').map((address) => `${address}:${METRICS_PORT} up`).sort()
}

const scrapedEveryReplica = async () => expect.poll(appTargets, { timeout: 90_000, interval: 1000 }).toEqual(await everyReplicaUp())

beforeAll(async () => {
  await monitoring(['up', '-d', '--wait', '--wait-timeout', '120', 'prometheus'])
  prometheusUrl = `http://${(await monitoring(['port', 'prometheus', '9090'])).trim()}`
})

afterAll(async () => {
  try {
    // Leave the stack as the other files expect it, also after a failure while scaling.
    await stack(['up', '-d', '--no-build', '--scale', 'app=4'])
    await waitForHealthyReplicas(4)
  } finally {
    await monitoring(['rm', '--stop', '--force', 'prometheus'])
    // The global teardown's `down` leaves what only a profile not named there uses.
    await docker(['volume', 'rm', `${projectName}_prometheus-data`])
    await docker(['network', 'rm', `${projectName}_monitoring`])
  }
})

describe('the monitoring profile', () => {
  it('is off by default; on, it publishes Prometheus on 127.0.0.1 only, from the official image or the offline stand-in', async () => {
    // The compose file as users get it: without this run's settings.
    const bare = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' }
    const services = async (...args: string[]) => {
      const { stdout } = await run('docker', ['compose', ...args, 'config', '--format', 'json'], { env: bare })
      return (JSON.parse(stdout) as { services: Record<string, { image: string, ports?: Array<{ host_ip: string, target: number, published: string }> }> }).services
    }
    expect(Object.keys(await services())).not.toContain('prometheus')
    const withMonitoring = await services('--profile', 'monitoring')
    const published = Object.entries(withMonitoring).flatMap(([name, service]) => (service.ports ?? []).map((port) => `${name} ${port.host_ip}:${port.published}:${port.target}`))
    expect(published.sort()).toEqual(['nginx 127.0.0.1:8080:8080', 'prometheus 127.0.0.1:9090:9090'])
    expect(withMonitoring.prometheus!.image).toMatch(/^prom\/prometheus:v3\./)
    expect((await services('--env-file', 'scripts/offline-images/offline.env', '--profile', 'monitoring')).prometheus!.image).toMatch(/^offline\/prometheus:/)
  })

  it('runs Prometheus hardened: read-only root, no capabilities, as nobody, off the databases\' network', async () => {
    const [settings] = JSON.parse(await docker(['inspect', (await containerOf('prometheus')).ID])) as Array<{
      Config: { User: string }
      HostConfig: { ReadonlyRootfs: boolean, CapDrop: string[] | null, CapAdd: string[] | null, SecurityOpt: string[] | null, RestartPolicy: { Name: string } }
      Mounts: Array<{ Type: string, Name?: string, Destination: string, RW: boolean }>
      NetworkSettings: { Networks: Record<string, unknown> }
    }>
    expect(settings!.HostConfig.ReadonlyRootfs).toBe(true)
    expect(settings!.HostConfig.CapDrop).toEqual(['ALL'])
    expect(settings!.HostConfig.CapAdd ?? []).toEqual([])
    expect(settings!.HostConfig.SecurityOpt).toContain('no-new-privileges:true')
    expect(settings!.HostConfig.RestartPolicy.Name).toBe('unless-stopped')
    expect(settings!.Config.User).toBe('65534:65534')
    expect(await monitoring(['exec', '-T', 'prometheus', 'cat', '/proc/1/status'])).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
    expect(settings!.Mounts.map(({ Type, Name, Destination, RW }) => ({ Type, Name, Destination, RW })).sort((a, b) => a.Destination.localeCompare(b.Destination))).toEqual([
      { Type: 'bind', Name: undefined, Destination: '/etc/prometheus', RW: false },
      { Type: 'volume', Name: `${projectName}_prometheus-data`, Destination: '/prometheus', RW: true }
    ])
    expect(Object.keys(settings!.NetworkSettings.Networks).sort()).toEqual([`${projectName}_metrics`, `${projectName}_monitoring`])
  })

  it('scrapes every replica on its metrics listener, and loads the alert rules', async () => {
    await scrapedEveryReplica()
    const rules = async () => {
      const { groups } = await prometheus<{ groups: Array<{ rules: Array<{ name: string, health: string }> }> }>('/api/v1/rules')
      return groups.flatMap((group) => group.rules.map((rule) => `${rule.name} ${rule.health}`)).sort()
    }
    await expect.poll(rules, { timeout: 60_000, interval: 1000 }).toEqual(['MySQLPoolExhausted ok', 'ReplicaNotAnswering ok', 'ServerErrors ok'])
  })

  it('counts ballots in the scraped counter, and answers the README\'s queries', async () => {
    // Every replica has been scraped since the earlier files' last ballot, so this holds them all.
    await scrapedEveryReplica()
    const ballots = 'sum(polls_votes_accepted_total{job="app"})'
    const before = await query(ballots) ?? 0
    const owner = await newUser('metrics')
    const poll = await newPoll(owner)
    for (const voter of await Promise.all([newUser('metrics'), newUser('metrics'), newUser('metrics')])) {
      expect((await call('POST', `/api/polls/${poll.id}/votes`, { cookie: voter.cookie, body: { choiceIds: [poll.choices[0]!.id] } })).status).toBe(201)
    }
    await expect.poll(() => query(ballots), { timeout: 60_000, interval: 1000 }).toBe(before + 3)

    // One example per key series in README.md's "Metrics": each has data once rates have two
    // scrapes to go on.
    for (const example of [
      'sum by (route, status_code) (rate(http_request_duration_seconds_count{job="app"}[5m]))',
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="app"}[5m])))',
      'sum(polls_event_streams_open{job="app"})',
      'max(polls_mysql_pool_waiting{job="app"})',
      'sum(polls_mysql_pool_connections{job="app", state="in_use"}) / sum(polls_mysql_pool_max_connections{job="app"})',
      'sum(increase(polls_votes_accepted_total{job="app"}[1h]))'
    ]) {
      await expect.poll(() => query(example), { timeout: 60_000, interval: 1000, message: example }).toEqual(expect.any(Number))
    }
  })

  it('follows scaling: 4 -> 6 replicas gives 6 targets up, and back to 4', async () => {
    await stack(['up', '-d', '--no-build', '--scale', 'app=6'])
    await waitForHealthyReplicas(6)
    await scrapedEveryReplica()
    expect(await appTargets()).toHaveLength(6)

    await stack(['up', '-d', '--no-build', '--scale', 'app=4'])
    await waitForHealthyReplicas(4)
    await expectRoutedToLiveReplicas()
    await scrapedEveryReplica()
    expect(await appTargets()).toHaveLength(4)
  })

  it('keeps the metrics listener from the public: nginx answers 404 for /metrics, while Prometheus reaches it', async () => {
    const publicly = await call('GET', '/metrics')
    expect(publicly.status).toBe(404)
    expect(JSON.stringify(publicly.body)).not.toMatch(/polls_|http_request_duration/)
    // The API's socket, what nginx forwards to, has no /metrics either.
    const onSocket = await stack(['exec', '-T', 'app', 'node', '-e', "require('http').get({ socketPath: '/run/polls/' + require('os').hostname() + '.sock', path: '/metrics' }, (r) => { console.log(r.statusCode); process.exit() })"])
    expect(onSocket.trim()).toBe('404')
    // nginx is on no network with the listener on it; Prometheus is.
    const networksOf = async (service: string) => Object.keys(JSON.parse(await docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', (await containerOf(service)).ID])) as object)
    expect(await networksOf('nginx')).not.toContain(`${projectName}_metrics`)
    const [address] = (await everyReplicaUp())[0]!.split(' ')
    expect(await monitoring(['exec', '-T', 'prometheus', 'wget', '-q', '-O', '-', `http://${address}/metrics`])).toMatch(/^polls_votes_accepted_total \d+$/m)
  })
})
