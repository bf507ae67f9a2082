import { mkdirSync, writeFileSync } from 'node:fs'
import { docker } from '../support/docker.js'
import { freePort } from '../support/free-port.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'

// A reverse proxy on the Docker host, as a user would run one in front of the stack (README, "A
// proxy on the same host"): nginx from the stack's image on the host's network, listening on
// two ports of 127.0.0.1, one passing requests on over the stack's unix socket
// (compose.socket.yml), the other over the published port, which Docker's userland port proxy
// carries.
export const SOCKET_DIR = '/tmp/polls-bench-front'

export interface HostProxy { containerId: string, overSocket: string, overPort: string, stop: () => Promise<void> }

// The socket folder, before the stack starts: owned by nginx's uid in the container, like the
// README's `install -d`, which needs root; a container does it for a bench run by any user
// of Docker.
export async function prepareSocketDir (nginxImage: string): Promise<void> {
  mkdirSync(SOCKET_DIR, { recursive: true })
  await docker(['run', '--rm', '--user', '0', '-v', `${SOCKET_DIR}:/d`, '--entrypoint', 'sh', nginxImage, '-c', 'chown 10002:10001 /d && chmod 2770 /d'])
}

export async function startHostProxy (nginxImage: string, publishedPort: number): Promise<HostProxy> {
  const [socketPort, portPort] = [await freePort(), await freePort()]
  const confDir = `${SOCKET_DIR}-conf`
  mkdirSync(confDir, { recursive: true })
  const server = (port: number, upstream: string) => `
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`
  writeFileSync(`${confDir}/nginx.conf`, `worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  upstream over_socket { server unix:/run/polls-front/polls.sock; keepalive 32; }
  upstream over_port { server 127.0.0.1:${publishedPort}; keepalive 32; }
  ${server(socketPort, 'over_socket')}
  ${server(portPort, 'over_port')}
}
`, { mode: 0o644 })
  await docker(['rm', '-f', 'polls-bench-host-proxy']).catch(() => '')
  const containerId = (await docker(['run', '-d', '--rm', '--name', 'polls-bench-host-proxy', '--network', 'host', '--user', '10002:10001',
    '-v', `${SOCKET_DIR}:/run/polls-front`, '-v', `${confDir}/nginx.conf:/etc/nginx/host-proxy.conf:ro`,
    '--entrypoint', 'nginx', nginxImage, '-c', '/etc/nginx/host-proxy.conf', '-g', 'daemon off;'])).trim()
  const overSocket = `http://127.0.0.1:${socketPort}`
  const overPort = `http://127.0.0.1:${portPort}`
  const answers = async (url: string) => (await fetch(`${url}/bench/static.txt`).catch(() => null))?.status === 200
  if (!await waitUntil(async () => await answers(overSocket) && await answers(overPort), { timeoutMs: 15_000, intervalMs: 200 })) {
    const logs = await run('docker', ['logs', containerId]).then(({ stdout, stderr }) => stdout + stderr, () => '')
    await docker(['rm', '-f', containerId]).catch(() => '')
    throw new Error(`bench: the host proxy did not answer on both ports within 15 s: ${logs}`)
  }
  return {
    containerId,
    overSocket,
    overPort,
    stop: async () => { await docker(['rm', '-f', containerId]).catch(() => '') }
  }
}
