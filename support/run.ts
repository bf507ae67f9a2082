import { type ExecFileOptions, execFile } from 'node:child_process'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

// Runs a program to its end. A non-zero exit rejects with execFile's error, which carries
// `code`, `stdout` and `stderr`. The buffer is large enough for `docker logs` of a whole run.
export function run (file: string, args: string[], options: Omit<ExecFileOptions, 'encoding'> = {}): Promise<{ stdout: string, stderr: string }> {
  return execFileAsync(file, args, { maxBuffer: 256 * 1024 * 1024, ...options, encoding: 'utf8' })
}
