import { homedir } from 'node:os'
import { HandoffError } from '../errors.js'
import { checkNewName, cleanTitle } from './names.js'
import { recordFormat } from './records.js'
import { isNoServer, runTmux, serverArgs, versionMismatch, type RunOptions } from './run.js'

export interface Session {
  /** tmux's stable id (`$3`): the only way Handoff addresses a session. */
  id: string
  name: string
  windows: number
  attached: number
  /** Last activity, Unix seconds. */
  activity: number
  /** Rows its status line takes from a client (the `status` option: off, on, 2-5). */
  statusLines: number
}

export interface Window {
  /** tmux's stable id (`@7`). */
  id: string
  index: number
  name: string
  active: boolean
  title: string
  command: string
  path: string
  activity: number
  /** The window's size in cells: what a client watching at desktop size shows. */
  width: number
  height: number
}

export interface Snapshot {
  /** Session id → current name (names change with rename-session). */
  sessions: Map<string, string>
  /** `$session:@window` for every window of every session. */
  windows: Set<string>
  /** tmux client pid → the id of the session it shows (for a viewer: the session viewed). */
  clients: Map<number, string>
}

export interface TmuxVersions {
  /** `tmux -V` of the binary on PATH, e.g. `3.3a`. */
  binary: string
  /** `#{version}` of the running server, or null when none runs. */
  server: string | null
}

/**
 * Handoff's own tmux sessions (one per terminal viewer) carry this user option,
 * set to the owning server's pid. Lists hide them; start-up removes orphans.
 */
const VIEWER_OPTION = '@handoff_viewer'
const VIEWER_PREFIX = '_handoff-view-'

const SESSION_FIELDS = {
  sessionId: '#{session_id}',
  sessionName: '#{session_name}',
  sessionWindows: '#{session_windows}',
  sessionAttached: '#{session_attached}',
  sessionActivity: '#{session_activity}',
  viewerOwner: `#{${VIEWER_OPTION}}`,
  viewerTarget: '#{@handoff_target}',
  status: '#{status}',
} as const

const WINDOW_FIELDS = {
  windowId: '#{window_id}',
  windowIndex: '#{window_index}',
  windowName: '#{window_name}',
  windowActive: '#{window_active}',
  title: '#{pane_title}',
  command: '#{pane_current_command}',
  path: '#{pane_current_path}',
  windowActivity: '#{window_activity}',
  width: '#{window_width}',
  height: '#{window_height}',
} as const

type Row<F> = Record<keyof F, string>

const toInt = (s: string): number => (/^\d+$/.test(s) ? Number(s) : 0)

const toSession = (r: Row<typeof SESSION_FIELDS>): Session => ({
  id: r.sessionId,
  name: r.sessionName,
  windows: toInt(r.sessionWindows),
  attached: toInt(r.sessionAttached),
  activity: toInt(r.sessionActivity),
  statusLines: r.status === 'off' ? 0 : r.status === 'on' ? 1 : toInt(r.status),
})

const toWindow = (r: Row<typeof WINDOW_FIELDS>): Window => ({
  id: r.windowId,
  index: toInt(r.windowIndex),
  name: r.windowName,
  active: r.windowActive === '1',
  title: cleanTitle(r.title),
  command: r.command,
  path: r.path,
  activity: toInt(r.windowActivity),
  width: toInt(r.width),
  height: toInt(r.height),
})

const isViewer = (r: Row<typeof SESSION_FIELDS>): boolean => r.viewerOwner !== ''
const byName = (a: Session, b: Session) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

const sessionNotFound = (name: string) => new HandoffError('SESSION_NOT_FOUND', 404, `no tmux session named ${JSON.stringify(name)}`)

/**
 * Every tmux call Handoff makes, bound to one tmux server (`-L socketName`, or
 * the user's default server). Sessions and windows are resolved by exact name
 * or index from tmux's own lists, then addressed by id, so `main` can never
 * reach `main2` and no name is ever parsed as a target.
 */
export class Tmux {
  constructor(
    readonly socketName: string | undefined,
    private readonly runOptions: RunOptions = {},
  ) {}

  /** Runs a command; throws TMUX_FAILED with tmux's own message on a non-zero exit. */
  async exec(args: readonly string[], options: RunOptions = {}): Promise<string> {
    const r = await runTmux(this.socketName, args, { ...this.runOptions, ...options })
    if (r.exitCode === 0) return r.stdout
    throw new HandoffError(
      'TMUX_FAILED',
      503,
      `tmux ${args[0] ?? ''} exited ${r.exitCode}: ${r.stderr.trim() || 'no message'}`,
    )
  }

  /** Like exec, but a missing tmux server yields null instead of an error. */
  private async execIfRunning(args: readonly string[]): Promise<string | null> {
    const r = await runTmux(this.socketName, args, this.runOptions)
    if (r.exitCode === 0) return r.stdout
    if (isNoServer(r.stderr)) return null
    throw new HandoffError('TMUX_FAILED', 503, `tmux ${args[0] ?? ''} exited ${r.exitCode}: ${r.stderr.trim() || 'no message'}`)
  }

  private async sessionRows() {
    const { format, parse } = recordFormat(SESSION_FIELDS)
    const out = await this.execIfRunning(['list-sessions', '-F', format])
    return out === null ? [] : parse(out)
  }

  /** The user's sessions by name; Handoff's own viewer sessions are left out. No server: empty. */
  async listSessions(): Promise<Session[]> {
    return (await this.sessionRows()).filter((r) => !isViewer(r)).map(toSession).sort(byName)
  }

  /** The session named exactly `name`, or SESSION_NOT_FOUND. */
  async findSession(name: string): Promise<Session> {
    const found = (await this.listSessions()).find((s) => s.name === name)
    if (found) return found
    throw sessionNotFound(name)
  }

  async listWindows(session: Session): Promise<Window[]> {
    const { format, parse } = recordFormat(WINDOW_FIELDS)
    const out = await this.execIfRunning(['list-windows', '-t', session.id, '-F', format])
    if (out === null) throw sessionNotFound(session.name)
    return parse(out).map(toWindow).sort((a, b) => a.index - b.index)
  }

  /**
   * Window `index` of the session named exactly `sessionName`, or
   * SESSION_NOT_FOUND / WINDOW_NOT_FOUND. One tmux call: opening a terminal waits on it.
   */
  async findWindow(sessionName: string, index: number): Promise<{ session: Session; window: Window }> {
    const { format, parse } = recordFormat({ ...SESSION_FIELDS, ...WINDOW_FIELDS })
    const out = await this.execIfRunning(['list-windows', '-a', '-F', format])
    const rows = (out === null ? [] : parse(out)).filter((r) => r.sessionName === sessionName && !isViewer(r))
    if (rows.length === 0) throw sessionNotFound(sessionName)
    const row = rows.find((r) => toInt(r.windowIndex) === index && r.windowIndex !== '')
    if (row) return { session: toSession(row), window: toWindow(row) }
    throw new HandoffError('WINDOW_NOT_FOUND', 404, `session ${JSON.stringify(sessionName)} has no window ${index}`)
  }

  /** Creates a detached session in the home folder; BAD_NAME or SESSION_EXISTS when it cannot. */
  async createSession(name: string): Promise<Session> {
    checkNewName(name, 'session')
    if ((await this.sessionRows()).some((r) => r.sessionName === name)) throw sessionExists(name)
    const r = await runTmux(this.socketName, ['new-session', '-d', '-s', name, '-c', homedir()], this.runOptions)
    if (r.exitCode !== 0) {
      if (/duplicate session/i.test(r.stderr)) throw sessionExists(name)
      throw new HandoffError('TMUX_FAILED', 503, `tmux new-session exited ${r.exitCode}: ${r.stderr.trim()}`)
    }
    return this.findSession(name)
  }

  /** Adds a window at the end of the session, in its active pane's folder, without selecting it. */
  async createWindow(session: Session, name?: string): Promise<Window> {
    if (name !== undefined) checkNewName(name, 'window')
    const { format, parse } = recordFormat({ id: WINDOW_FIELDS.windowId })
    const out = await this.exec([
      'new-window', '-d', '-P', '-F', format, '-t', `${session.id}:`, '-c', '#{pane_current_path}',
      ...(name === undefined ? [] : ['-n', name]),
    ])
    const id = parse(out)[0]?.id
    const window = (await this.listWindows(session)).find((w) => w.id === id)
    if (!window) throw new HandoffError('TMUX_FAILED', 503, 'tmux created a window that it then did not list')
    return window
  }

  /**
   * Kills a session and, in the same tmux command, the viewer sessions grouped
   * with it: while a viewer shares its windows they would otherwise live on.
   */
  async killSession(session: Session): Promise<void> {
    const viewers = (await this.sessionRows()).filter((r) => isViewer(r) && r.viewerTarget === session.id)
    const targets = [...viewers.map((v) => v.sessionId), session.id]
    await this.killSessions(targets)
  }

  /** One tmux command sequence, so the sessions go together. */
  private async killSessions(ids: string[]): Promise<void> {
    await this.exec(ids.flatMap((id, i) => [...(i ? [';'] : []), 'kill-session', '-t', id]))
  }

  async killWindow(window: Window): Promise<void> {
    await this.exec(['kill-window', '-t', window.id])
  }

  /**
   * The window's active pane as text with colours, wrapped lines joined: up to
   * `lines` lines of history, and the visible screen too unless `historyOnly`
   * (a terminal that will draw the screen live wants only what scrolled off).
   */
  async capturePane(window: Window, lines: number, options: { historyOnly?: boolean } = {}): Promise<string> {
    const start = String(-Math.max(0, Math.floor(lines)))
    return this.exec(
      ['capture-pane', '-p', '-e', '-J', '-S', start, ...(options.historyOnly ? ['-E', '-1'] : []), '-t', window.id],
      { maxOutputBytes: 32 * 1024 * 1024 },
    )
  }

  /** The binary's and the running server's versions; a mismatch breaks attaching. */
  async versions(): Promise<TmuxVersions> {
    const v = await runTmux(undefined, ['-V'], this.runOptions)
    const binary = v.stdout.trim().replace(/^tmux\s+/, '')
    let server: string | null
    try {
      server = (await this.execIfRunning(['display-message', '-p', '#{version}']))?.trim() ?? null
    } catch (err) {
      if (err instanceof HandoffError && err.code === 'TMUX_VERSION_MISMATCH') server = 'unknown'
      else throw err
    }
    return { binary, server }
  }

  /** Throws TMUX_VERSION_MISMATCH when the running server and the binary differ. */
  async checkVersions(): Promise<TmuxVersions> {
    const v = await this.versions()
    if (v.server !== null && v.server !== v.binary) {
      throw versionMismatch(`server ${v.server}, binary ${v.binary}`)
    }
    return v
  }

  /**
   * The argv (for `tmux`) of a client that views `window` through a session of
   * its own, grouped with `session`: the desktop's current window never moves,
   * and the viewer session dies with its client (`destroy-unattached`). One
   * tmux command sequence, so no list ever sees the viewer unmarked.
   */
  viewerArgv(session: Session, window: Window, viewerId: string, flags: { readOnly: boolean; ignoreSize: boolean }): string[] {
    const name = `${VIEWER_PREFIX}${viewerId}`
    const clientFlags = [...(flags.readOnly ? ['read-only'] : []), ...(flags.ignoreSize ? ['ignore-size'] : [])]
    return [
      ...serverArgs(this.socketName),
      'new-session', '-t', session.id, '-s', name, ';',
      'set-option', '-t', name, VIEWER_OPTION, String(process.pid), ';',
      'set-option', '-t', name, '@handoff_target', session.id, ';',
      'set-option', '-t', name, 'destroy-unattached', 'on', ';',
      'select-window', '-t', `${name}:${window.id}`,
      // read-only: tmux ignores the client's keys too; ignore-size: it never resizes the desktop's window.
      ...(clientFlags.length > 0 ? [';', 'refresh-client', '-f', clientFlags.join(',')] : []),
    ]
  }

  /**
   * What live terminals are checked against: every session's current name by
   * id, every session:window pair, and which session each client shows (a
   * viewer session counts as the session it views). Null when no server runs.
   */
  async snapshot(): Promise<Snapshot | null> {
    const windowRecords = recordFormat({ session: '#{session_id}', name: '#{session_name}', window: '#{window_id}' })
    const clientRecords = recordFormat({ pid: '#{client_pid}', session: '#{session_id}', target: '#{@handoff_target}' })
    const [windowsOut, clientsOut] = await Promise.all([
      this.execIfRunning(['list-windows', '-a', '-F', windowRecords.format]),
      this.execIfRunning(['list-clients', '-F', clientRecords.format]),
    ])
    if (windowsOut === null) return null
    const rows = windowRecords.parse(windowsOut)
    const clients = new Map<number, string>()
    for (const c of clientsOut === null ? [] : clientRecords.parse(clientsOut)) clients.set(toInt(c.pid), c.target || c.session)
    return {
      sessions: new Map(rows.map((r) => [r.session, r.name])),
      windows: new Set(rows.map((r) => `${r.session}:${r.window}`)),
      clients,
    }
  }

  /** Removes viewer sessions left by a Handoff server that died; returns how many. */
  async removeOrphanViewers(isAlive: (pid: number) => boolean): Promise<number> {
    const orphans = (await this.sessionRows()).filter(
      (r) =>
        isViewer(r) &&
        r.sessionName.startsWith(VIEWER_PREFIX) &&
        (!/^\d+$/.test(r.viewerOwner) || !isAlive(Number(r.viewerOwner)) || r.sessionAttached === '0'),
    )
    if (orphans.length > 0) await this.killSessions(orphans.map((o) => o.sessionId))
    return orphans.length
  }
}

const sessionExists = (name: string) =>
  new HandoffError('SESSION_EXISTS', 409, `a tmux session named ${JSON.stringify(name)} already exists`)

/** Where a pane is: its session's name and its window's index. */
export interface PaneLocation {
  session: string
  window: number
}

/** A pane id as tmux sets TMUX_PANE: `%` and digits. */
export const PANE_ID_PATTERN = /^%\d{1,9}$/

/**
 * The socket path of the tmux server a process runs inside, from its $TMUX
 * (`socket_path,server_pid,session_id`); undefined when that is not the shape.
 * Split from the right: only the path may contain commas.
 */
export function socketPathFromTmuxEnv(tmuxVar: string | undefined): string | undefined {
  const match = /^(\/.+),\d+,\d+$/.exec(tmuxVar ?? '')
  return match?.[1]
}

/**
 * The session and window of pane `paneId` ($TMUX_PANE) on the server at
 * `socketPath` (from $TMUX), or undefined when that cannot be told: no such
 * pane, no server, a bad id, or no answer within `timeoutMs`. Never throws.
 * A pane shown through a Handoff viewer session is reported in the session it views.
 */
export async function paneLocation(socketPath: string, paneId: string, timeoutMs = 1_000): Promise<PaneLocation | undefined> {
  if (!PANE_ID_PATTERN.test(paneId) || !socketPath.startsWith('/')) return undefined
  const ask = async <K extends string>(target: string, fields: Record<K, string>): Promise<Record<K, string> | undefined> => {
    const { format, parse } = recordFormat(fields)
    const r = await runTmux(undefined, ['display-message', '-p', '-t', target, format], { socketPath, timeoutMs })
    return r.exitCode === 0 ? parse(r.stdout)[0] : undefined
  }
  try {
    const pane = await ask(paneId, { session: '#{session_name}', window: '#{window_index}', viewing: SESSION_FIELDS.viewerTarget })
    if (!pane || !/^\d+$/.test(pane.window)) return undefined
    let session = pane.session
    // tmux may name a viewer session (grouped with the real one, same window indexes): name the real one.
    if (/^\$\d+$/.test(pane.viewing)) session = (await ask(pane.viewing, { session: '#{session_name}' }))?.session ?? session
    return session === '' ? undefined : { session, window: Number(pane.window) }
  } catch {
    return undefined
  }
}
