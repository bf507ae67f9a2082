import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'

// Every program that the tests, the bench or the scripts run must be there on a brand-new
// machine: part of Debian 12's base system, installed by .ci/run (or a script it runs), or
// checked for by the code that runs it, with a message naming what is missing. This reads
// the sources as text; it fails when a new command slips in unannounced.

// Debian 12's packages of priority required and important, and the machine's own Node.js.
const BASE_SYSTEM = new Set([
  'apt-get', 'awk', 'basename', 'bash', 'cat', 'chmod', 'chown', 'cmp', 'cp', 'cut', 'date', 'diff',
  'dirname', 'dpkg', 'dpkg-deb', 'dpkg-query', 'env', 'find', 'flock', 'getent', 'grep', 'gzip', 'head', 'hostname',
  'id', 'install', 'kill', 'ln', 'ls', 'mkdir', 'mktemp', 'mv', 'node', 'npm', 'npx', 'nproc', 'ps',
  'readlink', 'realpath', 'rm', 'sed', 'seq', 'sh', 'sha256sum', 'sleep', 'sort', 'tail', 'tar', 'tee',
  'timeout', 'touch', 'tr', 'uname', 'uniq', 'wc', 'xargs'
])

// What each Debian package that the CI scripts install puts on the PATH.
const PACKAGE_COMMANDS: Record<string, string[]> = {
  chromium: ['chromium'],
  openssl: ['openssl'],
  'libnss3-tools': ['certutil'],
  wrk: ['wrk'],
  'stress-ng': ['stress-ng'],
  debootstrap: ['debootstrap'],
  'docker.io': ['dockerd'],
  'docker-cli': ['docker'],
  'docker-compose': [],
  'docker-buildx': []
}

// Shell words that are not programs.
const SHELL_WORDS = new Set([
  'if', 'then', 'else', 'elif', 'fi', 'for', 'in', 'do', 'done', 'while', 'until', 'case', 'esac', 'function',
  'set', 'export', 'local', 'return', 'exit', 'cd', 'echo', 'printf', 'read', 'trap', 'wait', 'shift', 'source',
  'test', 'true', 'false', 'command', 'type', 'eval', 'exec', 'declare', 'unset', 'break', 'continue', 'readonly',
  'getopts', 'umask', 'time', 'mapfile', 'pushd', 'popd', 'pwd', 'step'
])

function files (dir: string, pattern: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'results' ? [] : files(path, pattern)
    return pattern.test(name) ? [path] : []
  })
}

const text = (path: string) => readFileSync(path, 'utf8')

// The shell scripts run on the host: .ci/run and scripts/. Entrypoints under
// scripts/offline-images/ and scripts/swarm/node/ run inside images, whose Dockerfiles
// install what they use.
const SHELL_SCRIPTS = ['.ci/run', ...files('scripts', /\.sh$/)
  .filter((path) => !path.startsWith('scripts/offline-images/') || path === 'scripts/offline-images/build.sh')
  .filter((path) => !path.startsWith('scripts/swarm/node/'))]
const TYPESCRIPT = ['bench', 'e2e', 'support', 'test', 'scripts'].flatMap((dir) => files(dir, /\.ts$/))
  .filter((path) => path !== 'test/commands.test.ts')

// A line of shell with the text of its quoted strings blanked out, keeping the commands that
// a `$(...)` runs, also inside double quotes.
function withoutQuotedText (line: string): string {
  const contexts: Array<'code' | 'double' | 'substitution'> = ['code']
  let out = ''
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!
    const context = contexts.at(-1)
    if (char === '\\') {
      out += '  '
      i++
    } else if (line.startsWith('$(', i)) {
      contexts.push('substitution')
      out += '$('
      i++
    } else if (context === 'double') {
      if (char === '"') contexts.pop()
      out += ' '
    } else if (char === "'") {
      const end = line.indexOf("'", i + 1)
      const close = end === -1 ? line.length - 1 : end
      out += ' '.repeat(close - i + 1)
      i = close
    } else if (char === '"') {
      contexts.push('double')
      out += ' '
    } else {
      if (char === ')' && context === 'substitution') contexts.pop()
      out += char
    }
  }
  return out
}

// Commands at the start of each simple command in a shell script (heredocs and comments
// skipped, functions the script defines left out).
function shellCommands (source: string): Set<string> {
  const lines: string[] = []
  let heredocEnd: string | null = null
  for (const line of source.replace(/\\\n/g, ' ').split('\n')) {
    if (heredocEnd !== null) {
      if (line.trim() === heredocEnd) heredocEnd = null
      continue
    }
    const heredoc = /<<-?\s*'?"?(\w+)/.exec(line)
    if (heredoc && !line.includes('<<<')) heredocEnd = heredoc[1]!
    lines.push(withoutQuotedText(line).replace(/(^|\s)#.*$/, ''))
  }
  const defined = new Set([...source.matchAll(/^\s*([\w-]+)\s*\(\)/gm)].map((match) => match[1]!))
  const used = new Set<string>()
  for (const line of lines) {
    // A `for` list holds words, not commands, and so do a `case` branch's pattern, an array
    // and arithmetic.
    const code = line.replace(/\bfor\s+\w+\s+in\s+[^;]*;/g, '').replace(/(^|\bin)\s*[\w.*|-]+\)/, '$1;')
      .replace(/\b\w+=\([^)]*\)/g, '').replace(/\$\(\([^)]*\)\)/g, '')
    for (const segment of code.split(/&&|\|\||[;|(){}`]|\$\(|\b(?:then|do|else|if|while|until|!)\b/)) {
      const words = segment.trim().split(/\s+/).filter((word) => !/^\w+=/.test(word))
      const word = words[0]
      if (!word || !/^[a-z][\w.-]*$/.test(word) || SHELL_WORDS.has(word) || defined.has(word)) continue
      used.add(word)
    }
  }
  return used
}

// A script's text followed by that of the files it sources from beside it
// (`. "$(dirname "$0")/lib/x.sh"`), whose functions and checks are the script's too.
function withSourcedFiles (path: string): string {
  const source = text(path)
  const sourced = [...source.matchAll(/^\s*(?:\.|source) "\$\(dirname "\$0"\)\/([\w/.-]+)"/gm)].map((match) => join(dirname(path), match[1]!))
  return [source, ...sourced.map(text)].join('\n')
}

// Commands a shell script checks for itself: `command -v NAME`, or a `for` loop over names
// whose body runs `command -v`.
function shellChecks (source: string): Set<string> {
  const checked = new Set([...source.matchAll(/command -v ([a-z][\w.-]*)/g)].map((match) => match[1]!))
  for (const loop of source.matchAll(/for (\w+) in ([^;\n]+);\s*do([\s\S]*?)\bdone\b/g)) {
    if (loop[3]!.includes(`command -v "$${loop[1]}"`)) for (const name of loop[2]!.trim().split(/\s+/)) checked.add(name)
  }
  return checked
}

// Packages that `apt-get install` lines of a script name (a `/suite` suffix dropped).
function installedPackages (source: string): string[] {
  return [...source.replace(/\\\n/g, ' ').matchAll(/apt-get install ([^\n>&|;]+)/g)].flatMap((match) =>
    match[1]!.trim().split(/\s+/).filter((word) => !word.startsWith('-')).map((word) => word.replace(/\/\w+$/, '')))
}

// Programs a TypeScript file starts: run/spawn/execFile('name', ...), and the ones it checks
// for with requireCommands(..., ['name', ...]).
function typescriptCommands (source: string): { used: Set<string>, checked: Set<string> } {
  const used = new Set([...source.matchAll(/\b(?:run|spawn|spawnSync|execFile|execFileSync|execSync)\(\s*'([^']+)'/g)].map((match) => match[1]!))
  const checked = new Set([...source.matchAll(/requireCommands\([^,]+,\s*\[([^\]]*)\]/g)]
    .flatMap((match) => [...match[1]!.matchAll(/'([^']+)'/g)].map((name) => name[1]!)))
  return { used, checked }
}

// What .ci/run installs, itself or through the scripts it runs.
function installedByCi (): Set<string> {
  const ci = text('.ci/run')
  const scripts = [...ci.matchAll(/bash (scripts\/[\w/.-]+\.sh)/g)].map((match) => match[1]!)
  const packages = [ci, ...scripts.map(text)].flatMap(installedPackages)
  const unknown = packages.filter((name) => !(name in PACKAGE_COMMANDS))
  if (unknown.length > 0) throw new Error(`add these packages' commands to PACKAGE_COMMANDS: ${unknown.join(', ')}`)
  return new Set(packages.flatMap((name) => PACKAGE_COMMANDS[name]!))
}

describe('commands the tests, the bench and the scripts run', () => {
  const installed = installedByCi()
  const provided = (name: string) => BASE_SYSTEM.has(name) || installed.has(name)

  it('are installed by .ci/run, or checked for by the shell script that runs them', () => {
    const unannounced = SHELL_SCRIPTS.flatMap((path) => {
      const source = withSourcedFiles(path)
      const checked = shellChecks(source)
      return [...shellCommands(source)].filter((name) => !provided(name) && !checked.has(name)).map((name) => `${path}: ${name}`)
    })
    expect(unannounced).toEqual([])
  })

  it('are installed by .ci/run, or checked for with requireCommands, in TypeScript', () => {
    const all = TYPESCRIPT.map((path) => ({ path, ...typescriptCommands(text(path)) }))
    const checked = new Set(all.flatMap(({ checked }) => [...checked]))
    const unannounced = all.flatMap(({ path, used }) => [...used].filter((name) => !provided(name) && !checked.has(name)).map((name) => `${path}: ${name}`))
    expect(unannounced).toEqual([])
    // The bench's load generator and the tests' Docker are checked where they start.
    expect([...checked]).toEqual(expect.arrayContaining(['docker', 'wrk']))
  })

  it('finds a command nobody installs or checks for', () => {
    expect([...shellCommands('set -e\nfoo() { jq . x; }\nfoo && curl -s x | jq .\nyq <<EOF\nnot a command\nEOF\n')].sort()).toEqual(['curl', 'jq', 'yq'])
    expect([...shellCommands('case $1 in\n  up|down) gawk 1 ;;\n  *) ls ;;\nesac\ncase $2 in a|b) jq ;; esac\n')].sort()).toEqual(['gawk', 'jq', 'ls'])
    expect([...shellCommands('names=(one two)\nlocal end=$((SECONDS + 1)) left\n')]).toEqual([])
    expect([...shellChecks('command -v curl >/dev/null\nfor tool in jq yq; do command -v "$tool"; done')].sort()).toEqual(['curl', 'jq', 'yq'])
    expect(typescriptCommands("await run('jq', ['.'])\nrequireCommands('x', ['wrk'])")).toEqual({ used: new Set(['jq']), checked: new Set(['wrk']) })
  })
})
