import { HandoffError } from '../server/errors.js'
import { forTerminalLines } from '../server/untrusted.js'

/** Fixed exit codes: scripts may rely on them (docs/cli.md). */
export const Exit = { Ok: 0, Failure: 1, Usage: 2, NotRunning: 3 } as const

/**
 * Prints `data` as JSON (exact), or as the human view of the same object;
 * results go to stdout. The human view is escaped for the terminal
 * (server/untrusted.ts): names, paths and audit targets came from outside.
 */
export function render<T>(data: T, json: boolean | undefined, human: (d: T) => string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : forTerminalLines(human(data)))
}

/** Progress and notes go to stderr, so stdout stays the result. */
export const note = (line: string): void => void process.stderr.write(`${forTerminalLines(line)}\n`)

/** One clear line on stderr, then the exit code. */
export function fail(message: string, code: number = Exit.Failure): never {
  process.stderr.write(`handoff: ${forTerminalLines(message)}\n`)
  process.exit(code)
}

/** Turns an error from an action into its one line and exit code. */
export function failWith(err: unknown): never {
  if (err instanceof HandoffError) fail(err.message, err.code === 'BAD_CONFIG' ? Exit.Usage : Exit.Failure)
  // The system refused a file operation (permissions, a full disk): say which file, not a stack.
  const sys = err as NodeJS.ErrnoException
  if (sys instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string') {
    fail(`cannot ${sys.syscall} ${sys.path ?? ''}: ${sys.code}. Check the permissions and free space of that folder (HANDOFF_HOME)`)
  }
  fail(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
}

/** "3m ago" style ages from Unix seconds. */
export function ago(unixSeconds: number, now = Date.now()): string {
  const s = Math.max(0, Math.round(now / 1000 - unixSeconds))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86_400)}d ago`
}
