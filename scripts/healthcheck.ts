// The app container's healthcheck, so the image needs no curl: exit 0 when the replica on the
// given socket answers /healthz with 200 within 2 s. Liveness only: a replica that cannot
// reach MySQL or Redis still answers, with fast 503s naming the dependency, and restarting it
// would not bring the dependency back (autorestart restarts unhealthy replicas).
import { request } from 'node:http'

const socketPath = process.argv[2]
if (!socketPath) {
  console.error('usage: healthcheck SOCKET_PATH')
  process.exit(2)
}
const probe = request({ socketPath, path: '/healthz', timeout: 2000 }, (response) => {
  response.resume()
  process.exit(response.statusCode === 200 ? 0 : 1)
})
probe.on('timeout', () => probe.destroy(new Error('timeout')))
probe.on('error', () => process.exit(1))
probe.end()
