import { accessSync, constants } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

// Whether `name` (a command on PATH, or a path) can be run.
export function canRun (name: string): boolean {
  const candidates = isAbsolute(name) ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name))
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

// Stops at once, naming every program `user` needs that this machine lacks, rather than
// failing later in the middle of a run with ENOENT.
export function requireCommands (user: string, names: string[], hint = 'bash .ci/run installs them on a Debian 12 machine'): void {
  const missing = names.filter((name) => !canRun(name))
  if (missing.length > 0) throw new Error(`${user} needs ${missing.join(', ')}, not found on this machine (${hint})`)
}
