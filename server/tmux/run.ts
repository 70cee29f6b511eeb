import { spawn } from 'node:child_process'
import { HandoffError } from '../errors.js'

export interface RunOptions {
  /** Kill tmux and fail with TMUX_TIMEOUT after this long (ms). */
  timeoutMs?: number
  /** Kill tmux and fail with TMUX_OUTPUT_TOO_LARGE past this many stdout bytes. */
  maxOutputBytes?: number
  /**
   * Talk to the server at this socket path (`-S`) instead of `-L socketName`:
   * the one the caller runs inside, from $TMUX. Absolute paths only.
   */
  socketPath?: string
}

export const RUN_DEFAULTS = { timeoutMs: 5_000, maxOutputBytes: 4 * 1024 * 1024 } as const

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
}

/**
 * The environment every tmux process gets. TMUX and TMUX_PANE are dropped so
 * that `handoff serve` started inside tmux can still attach (tmux refuses to
 * nest), and talks to the server chosen by `-L`, not the enclosing one.
 */
export function tmuxEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  delete env.TMUX
  delete env.TMUX_PANE
  return env
}

let spawned = 0
/** Counts a tmux process about to be started (one-shot or control client). */
export const countSpawn = (): void => void spawned++
/** How many tmux processes this process has started: the bench shows that idle terminals start none. */
export const tmuxSpawns = (): number => spawned

/** The argv prefix that picks the tmux server: `-u` (UTF-8 output) and `-L NAME` when one is set. */
export const serverArgs = (socketName: string | undefined): string[] =>
  socketName ? ['-u', '-L', socketName] : ['-u']

/**
 * Runs tmux once with an argument array (never a shell). Resolves with the exit
 * code and output; rejects only when tmux cannot run or answer at all.
 */
export function runTmux(
  socketName: string | undefined,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? RUN_DEFAULTS.timeoutMs
  const maxOutputBytes = options.maxOutputBytes ?? RUN_DEFAULTS.maxOutputBytes
  if (options.socketPath !== undefined && !options.socketPath.startsWith('/')) {
    return Promise.reject(new HandoffError('TMUX_FAILED', 503, `a tmux socket path must be absolute, got ${JSON.stringify(options.socketPath)}`))
  }
  const argv = [...(options.socketPath === undefined ? serverArgs(socketName) : ['-u', '-S', options.socketPath]), ...args]
  return new Promise((resolve, reject) => {
    countSpawn()
    const child = spawn('tmux', argv, { stdio: ['ignore', 'pipe', 'pipe'], env: tmuxEnv() })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let stdoutBytes = 0
    let settled = false
    // Settle at once on a failure: tmux hands its stdio to the server, so a hung
    // server keeps our pipes open and 'close' would never come.
    const stop = (err: HandoffError) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      child.stdout.destroy()
      child.stderr.destroy()
      reject(err)
    }
    const timer = setTimeout(
      () =>
        stop(
          new HandoffError(
            'TMUX_TIMEOUT',
            503,
            `tmux did not answer within ${timeoutMs} ms (tmux ${args[0] ?? ''}); the tmux server may be hung: check it with "tmux${socketName ? ` -L ${socketName}` : ''} ls"`,
          ),
        ),
      timeoutMs,
    )
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (stdoutBytes > maxOutputBytes) {
        stop(new HandoffError('TMUX_OUTPUT_TOO_LARGE', 503, `tmux ${args[0] ?? ''} printed more than ${maxOutputBytes} bytes`))
        return
      }
      stdout.push(chunk)
    })
    // stderr is only read for error messages: keep its first 64 KiB.
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.reduce((n, b) => n + b.length, 0) < 64 * 1024) stderr.push(chunk)
    })
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        stop(
          new HandoffError(
            'TMUX_NOT_INSTALLED',
            503,
            'tmux is not installed or not on PATH. Install it: "brew install tmux" (macOS) or "sudo apt-get install tmux" (Debian/Ubuntu)',
            { cause: err },
          ),
        )
      } else stop(new HandoffError('TMUX_FAILED', 503, `could not run tmux: ${err.message}`, { cause: err }))
    })
    child.once('close', (code, signal) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const result: RunResult = {
        exitCode: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }
      if (/protocol version mismatch/i.test(result.stderr)) return reject(versionMismatch(result.stderr.trim()))
      resolve(result)
    })
  })
}

export function versionMismatch(detail: string): HandoffError {
  return new HandoffError(
    'TMUX_VERSION_MISMATCH',
    503,
    `the running tmux server is a different version from the tmux binary (${detail}); this is what makes attaching fail with "open terminal failed: not a terminal". Save your work, then restart tmux ("tmux kill-server") so that the server and binary match`,
  )
}

/** True when tmux failed only because no server is running on that socket. */
export const isNoServer = (stderr: string): boolean =>
  /no server running|error connecting to|server exited unexpectedly/i.test(stderr)
