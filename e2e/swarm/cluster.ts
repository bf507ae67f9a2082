import { run } from '../../support/run.js'

// A Docker Swarm of three engines on this machine (scripts/swarm/cluster.sh), and the polls
// stack deployed on it by scripts/swarm-deploy.sh, as an operator would.

const CLUSTER = 'polls-swarm-test'
export const STACK = 'polls'

export type Role = 'manager' | 'worker1' | 'worker2'

export interface SwarmNode {
  role: Role
  // The node's container on this machine's engine; also its hostname in the swarm.
  container: string
  // nginx's port, published on the node's own address (host mode).
  url: string
}

const clusterScript = async (command: string, ...args: string[]) =>
  (await run('bash', ['scripts/swarm/cluster.sh', command, CLUSTER, ...args])).stdout

let dockerHost = ''

// Makes the swarm afresh (an earlier run's leftovers first removed) and copies the images in,
// pulling those this machine lacks (MySQL's and Redis's, where a registry is reachable).
export async function startCluster (images: string[]): Promise<SwarmNode[]> {
  for (const image of images) await run('docker', ['image', 'inspect', image]).catch(() => run('docker', ['pull', '--quiet', image]))
  await clusterScript('down')
  const started = await startNodes()
  dockerHost = (await clusterScript('host')).trim()
  await clusterScript('load', ...images)
  return started
}

// Makes the swarm, or starts the nodes of it that are down again (each rejoins as itself).
export async function startNodes (): Promise<SwarmNode[]> {
  return (await clusterScript('up')).trim().split('\n').map((line) => {
    const [container, ip] = line.split(' ') as [string, string]
    return { role: container.slice(CLUSTER.length + 1) as Role, container, url: `http://${ip}:8080` }
  })
}

// Every container, volume and network the cluster made, also after a failure.
export const removeCluster = () => clusterScript('down')

// The docker CLI against the swarm's manager.
export async function swarmDocker (args: string[]): Promise<string> {
  return (await run('docker', args, { env: { ...process.env, DOCKER_HOST: dockerHost } })).stdout
}

// The docker CLI against one node's own engine: the containers running there.
export async function nodeDocker (node: SwarmNode, args: string[]): Promise<string> {
  return (await run('docker', ['exec', node.container, 'docker', ...args])).stdout
}

export async function deployStack (env: Record<string, string>): Promise<string> {
  const { stdout } = await run('bash', ['scripts/swarm-deploy.sh', '-f', 'e2e/swarm/overrides.yml', STACK], {
    env: { ...process.env, ...env, DOCKER_HOST: dockerHost }
  })
  return stdout
}

// The ids of a service's containers running on a node: each replica's hostname, and so the
// name of its socket.
export async function replicasOn (node: SwarmNode, service: string): Promise<string[]> {
  const out = await nodeDocker(node, ['ps', '--filter', `label=com.docker.swarm.service.name=${STACK}_${service}`, '--format', '{{.ID}}'])
  return out.split('\n').filter(Boolean)
}

// A task's state is the first word of its current state ("Running 5 seconds ago").
export interface Task { id: string, node: string, desiredState: string, state: string }

// A service's tasks as the manager sees them.
export async function tasksOf (service: string): Promise<Task[]> {
  const out = await swarmDocker(['service', 'ps', `${STACK}_${service}`, '--format', '{{.ID}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}'])
  return out.split('\n').filter(Boolean).map((line) => {
    const [id, node, desiredState, currentState] = line.split('|') as [string, string, string, string]
    return { id, node, desiredState, state: currentState.split(' ')[0]! }
  })
}

// One value a query gives, read in the MySQL task as MySQL's root user.
export async function mysqlValue (nodes: SwarmNode[], sql: string): Promise<string> {
  for (const node of nodes) {
    const [mysql] = await replicasOn(node, 'mysql')
    if (!mysql) continue
    return (await nodeDocker(node, ['exec', mysql, 'sh', '-c', `MYSQL_PWD="$(cat /run/secrets/polls/root_password)" mysql -uroot -N -e "${sql}" polls`])).trim()
  }
  throw new Error('no MySQL task on any node')
}
