import { describe, expect, it } from 'vitest'
import { run } from '../support/run.js'

// scripts/machine/docker.sh, run for real in a clean Debian 12 container (the debootstrap
// base the offline kit builds, or the official image where a registry is reachable), as on a
// user's workstation that already has perl and python3.
const BASE_IMAGE = process.env.DEBIAN_IMAGE ?? 'debian:bookworm-slim'

const SCRIPT = `
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends perl python3 >/dev/null
versions() { dpkg-query -W -f '\${Package}=\${Version}\\n' libc6 perl python3; }
preferences() { ls /etc/apt/preferences.d; }
echo "before: $(versions | tr '\\n' ' ')| $(preferences | tr '\\n' ' ')"
bash /repo/scripts/machine/docker.sh --no-start >/dev/null
echo "after: $(versions | tr '\\n' ' ')| $(preferences | tr '\\n' ' ')"
echo "engine: $(dockerd --version)"
echo "compose: $(docker compose version)"
echo "buildx: $(docker buildx version)"
`

describe('scripts/machine/docker.sh', () => {
  it('installs Docker 26 with Compose v2 and buildx from trixie, leaving libc6, perl and python3 at Debian 12\'s versions', async () => {
    const { stdout } = await run('docker', ['run', '--rm', '-v', `${process.cwd()}/scripts:/repo/scripts:ro`, BASE_IMAGE, 'bash', '-c', SCRIPT])
    const line = (label: string) => stdout.split('\n').find((l) => l.startsWith(`${label}: `))?.slice(label.length + 2) ?? ''
    const [versionsBefore, preferencesBefore] = line('before').split('|')
    const [versionsAfter, preferencesAfter] = line('after').split('|')
    expect(versionsBefore).toMatch(/libc6=2\.36-.*perl=5\.36\..*python3=3\.11\./)
    expect(versionsAfter).toBe(versionsBefore)
    // The only apt preference added is the low pin of trixie itself.
    expect(preferencesAfter!.trim().split(' ').sort()).toEqual([...preferencesBefore!.trim().split(' ').filter(Boolean), 'trixie-low'].sort())
    expect(line('engine')).toMatch(/Docker version 26\./)
    expect(line('compose')).toMatch(/version v?2\.(2[6-9]|[3-9]\d)\./)
    expect(line('buildx')).toMatch(/ v?0\.\d+\./)
  }, 600_000)
})
