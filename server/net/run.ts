import { execFile } from 'node:child_process'

/** What running an external command came to; never throws. */
export type RunResult =
  | { kind: 'ok'; stdout: string; stderr: string }
  | { kind: 'missing' }
  | { kind: 'timeout'; timeoutMs: number }
  | { kind: 'too-large'; maxBytes: number }
  | { kind: 'failed'; exitCode: number | null; stdout: string; stderr: string; message: string }

/** Runs `file args...` with an argument array (never a shell), a timeout and a cap on its output. */
export function runCommand(file: string, args: readonly string[], limits: { timeoutMs: number; maxBytes: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: limits.timeoutMs, maxBuffer: limits.maxBytes, killSignal: 'SIGKILL', windowsHide: true, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ kind: 'ok', stdout, stderr })
        const code = (err as NodeJS.ErrnoException).code as string | number | undefined
        if (code === 'ENOENT') return resolve({ kind: 'missing' })
        if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return resolve({ kind: 'too-large', maxBytes: limits.maxBytes })
        if (err.killed) return resolve({ kind: 'timeout', timeoutMs: limits.timeoutMs })
        resolve({ kind: 'failed', exitCode: typeof code === 'number' ? code : null, stdout, stderr, message: err.message })
      },
    )
  })
}

/** A command's stderr as one line, capped, for an error message. */
export function oneLine(text: string, maxChars = 300): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > maxChars ? `${line.slice(0, maxChars)}…` : line
}
