import { fileURLToPath } from 'node:url'
import * as pty from 'node-pty'

const BIN = fileURLToPath(new URL('../../bin/handoff.js', import.meta.url))

// CSI, OSC and two-byte escapes: what a TTY-aware CLI colours and moves with.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g

/**
 * `handoff pair` in a pseudo-terminal, so it sees a TTY as it does for a user.
 * `wrap` runs it through another command, such as the test tailnet's
 * computer (`ip netns exec …`): [file, ...args] before node and its arguments.
 */
export class PairCli {
  private raw = ''
  readonly exited: Promise<number>
  exitCode: number | undefined
  private readonly proc: pty.IPty

  constructor(args: string[], env: Record<string, string>, wrap: readonly string[] = []) {
    const base: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'TMUX' && k !== 'TMUX_PANE') base[k] = v
    const [file, ...rest] = [...wrap, process.execPath, BIN, 'pair', ...args] as [string, ...string[]]
    this.proc = pty.spawn(file, rest, {
      name: 'xterm-256color',
      // Wide enough that neither the URL nor the QR code wraps.
      cols: 200,
      rows: 60,
      env: { ...base, ...env },
    })
    this.proc.onData((data) => (this.raw += data))
    this.exited = new Promise((resolve) =>
      this.proc.onExit(({ exitCode }) => {
        this.exitCode = exitCode
        resolve(exitCode)
      }),
    )
  }

  /** Everything printed so far, without escape sequences. */
  text(): string {
    return this.raw.replace(ANSI, '').replace(/\r/g, '')
  }

  type(keys: string): void {
    this.proc.write(keys)
  }

  kill(): void {
    if (this.exitCode === undefined) this.proc.kill()
  }
}
