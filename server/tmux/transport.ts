import { isNoServer, runTmux, type RunOptions } from './run.js'

/** One tmux command's outcome: its output, tmux's error message, or no tmux server at all. */
export type CommandResult =
  | { status: 'ok'; output: string }
  | { status: 'failed'; message: string }
  | { status: 'no-server' }

/** How `Tmux` reaches tmux: a process per command (the CLI) or a control connection (the server). */
export interface TmuxTransport {
  readonly socketName: string | undefined
  command(args: readonly string[], options?: RunOptions): Promise<CommandResult>
  /** How many of the clients attached to session `sessionId` are our own (not the desktop's). */
  ownClientsOn(sessionId: string): number
}

/** A tmux process per command: for the CLI, which runs once and leaves. */
export class OneShotTransport implements TmuxTransport {
  constructor(
    readonly socketName: string | undefined,
    private readonly runOptions: RunOptions = {},
  ) {}

  ownClientsOn(): number {
    return 0
  }

  async command(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const r = await runTmux(this.socketName, args, { ...this.runOptions, ...options })
    if (r.exitCode === 0) return { status: 'ok', output: r.stdout }
    if (isNoServer(r.stderr)) return { status: 'no-server' }
    return { status: 'failed', message: `tmux ${args[0] ?? ''} exited ${r.exitCode}: ${r.stderr.trim() || 'no message'}` }
  }
}
