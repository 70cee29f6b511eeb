import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Windows run plain `sh`: a login shell's start-up files (pyenv, nvm…) can take
// seconds and make tests depend on the machine. The server stays up when empty
// so that tests can create the first session through Handoff.
const CONFIG = 'set -g default-shell /bin/sh\nset -g exit-empty off\n'

/**
 * A private tmux server for one test (`tmux -L <unique name>`, our own config),
 * never the user's default server. Commands go through execFileSync with an
 * argument array, as Handoff's own do.
 */
export class PrivateTmux {
  readonly socket = `handoff-test-${process.pid}-${randomUUID().slice(0, 8)}`
  private readonly config = join(mkdtempSync(join(tmpdir(), 'handoff-tmux-')), 'tmux.conf')

  constructor() {
    writeFileSync(this.config, CONFIG)
  }

  /** Starts the server with no sessions. */
  start(): void {
    this.run('start-server')
  }

  /** Runs tmux on this server and returns its stdout. The config applies when this call starts the server. */
  run(...args: string[]): string {
    const env = { ...process.env }
    delete env.TMUX
    delete env.TMUX_PANE
    return execFileSync('tmux', ['-u', '-L', this.socket, '-f', this.config, ...args], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  }

  /** Starts a detached session running `sh`. */
  newSession(name: string, ...extra: string[]): void {
    this.run('new-session', '-d', '-s', name, '-x', '120', '-y', '30', ...extra)
  }

  /** The visible text of a pane, e.g. `main:0` or `@3`. */
  capture(target: string): string {
    return this.run('capture-pane', '-p', '-t', target)
  }

  kill(): void {
    try {
      this.run('kill-server')
    } catch {
      // Already gone.
    }
  }
}

/** A fresh HANDOFF_HOME, removed by the returned function. */
export function tempHome(): { home: string; remove: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'handoff-home-'))
  return { home, remove: () => rmSync(home, { recursive: true, force: true }) }
}
