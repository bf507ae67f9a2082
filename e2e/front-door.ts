// nginx with a test file's own front-door settings: the stack's nginx recreated with more
// compose files (compose.tls.yml) or settings (TRUSTED_PROXIES, the limits per address), then
// put back as the e2e setup started it, which the other files expect.
import { expect, inject, vi } from 'vitest'
import { composeProject } from '../support/docker.js'
import { liveReplicaSockets, stack } from './stack.js'

const stackProject = inject('stackProject')

// The front network, where nginx is, and where a test's own containers can reach it as `nginx`.
export const frontNetwork = `${stackProject.name}_front`

// Only nginx is recreated (--no-deps): the replicas and their data stay as they are. Done once
// nginx routes to every replica: its entrypoint leaves out at start a replica that was slow to
// answer, and adds it a second later with a reload.
export async function recreateNginx ({ files = [], env = {} }: { files?: string[], env?: Record<string, string> } = {}): Promise<void> {
  const project = composeProject({ ...stackProject, files: [...stackProject.files, ...files] })
  await project.compose(['up', '-d', '--no-deps', '--wait', 'nginx'], env)
  const live = await liveReplicaSockets()
  await vi.waitFor(async () => {
    const upstream = await stack(['exec', '-T', 'nginx', 'cat', '/tmp/nginx/upstream.conf'])
    expect([...upstream.matchAll(/^\s*server (unix:\S+);$/gm)].map((match) => match[1]).sort()).toEqual(live)
  }, { timeout: 30_000, interval: 250 })
}

export const restoreNginx = () => recreateNginx()
