import { homedir } from 'node:os'
import { HandoffError } from '../errors.js'
import { checkNewName, cleanTitle } from './names.js'
import { recordFormat } from './records.js'
import { sendKeysCommands, type KeyInput } from './keys.js'
import { runTmux, versionMismatch, type RunOptions } from './run.js'
import { OneShotTransport, type TmuxTransport } from './transport.js'

export interface Session {
  /** tmux's stable id (`$3`): the only way Handoff addresses a session. */
  id: string
  name: string
  windows: number
  attached: number
  /** When anything last happened in it (keys or output, in any window), Unix seconds. */
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
  /** How many panes it has. */
  panes: number
}

/** A window as a terminal or a route addresses it: ids, and names for messages. */
export interface WindowTarget {
  session: Pick<Session, 'id' | 'name'>
  window: Pick<Window, 'id' | 'index'>
}

export interface Snapshot {
  /** Session id → current name (names change with rename-session). */
  sessions: Map<string, string>
  /** `$session:@window` for every window of every session. */
  windows: Set<string>
}

export interface TmuxVersions {
  /** `tmux -V` of the binary on PATH, e.g. `3.3a`. */
  binary: string
  /** `#{version}` of the running server, or null when none runs. */
  server: string | null
}

const SESSION_FIELDS = {
  sessionId: '#{session_id}',
  sessionName: '#{session_name}',
  sessionWindows: '#{session_windows}',
  sessionAttached: '#{session_attached}',
  sessionActivity: '#{session_activity}',
  status: '#{status}',
} as const

/**
 * A session's row as `list-sessions` gives it, with every window's activity:
 * tmux moves `session_activity` only for keys typed by a client attached to
 * the session, not for `send-keys` (a phone typing) nor for output.
 */
const SESSION_LIST_FIELDS = { ...SESSION_FIELDS, windowsActivity: '#{W:#{window_activity} }' } as const

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
  panes: '#{window_panes}',
} as const

type Row<F> = Record<keyof F, string>

const toInt = (s: string): number => (/^\d+$/.test(s) ? Number(s) : 0)

const toSession = (r: Row<typeof SESSION_FIELDS>, ownClients: number, windowsActivity: readonly number[]): Session => ({
  id: r.sessionId,
  name: r.sessionName,
  windows: toInt(r.sessionWindows),
  // tmux counts Handoff's own control clients too; `attached` means the desktop's.
  attached: Math.max(0, toInt(r.sessionAttached) - ownClients),
  // "Last active" is when anything last happened in it: typed or printed in any window.
  activity: Math.max(toInt(r.sessionActivity), ...windowsActivity),
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
  panes: toInt(r.panes),
})

const byName = (a: Session, b: Session) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

const sessionNotFound = (name: string) => new HandoffError('SESSION_NOT_FOUND', 404, `no tmux session named ${JSON.stringify(name)}`)

/** Whose window size a phone holds, and how to give it back (a window option, so it survives us). */
const SIZE_CLAIM_OPTION = '@handoff-size'

/** The smallest size a phone may give a window: smaller, it pans instead. */
export const MIN_CLAIM_SIZE = { cols: 20, rows: 8 } as const

/**
 * Every tmux call Handoff makes, bound to one tmux server (`-L socketName`, or
 * the user's default server). Sessions and windows are resolved by exact name
 * or index from tmux's own lists, then addressed by id, so `main` can never
 * reach `main2` and no name is ever parsed as a target. Calls go through a
 * transport: a process each (the CLI), or the server's control connection.
 */
export class Tmux {
  readonly transport: TmuxTransport

  constructor(transport: TmuxTransport | string | undefined, runOptions: RunOptions = {}) {
    this.transport = typeof transport === 'object' ? transport : new OneShotTransport(transport, runOptions)
  }

  get socketName(): string | undefined {
    return this.transport.socketName
  }

  /** Runs a command; throws TMUX_FAILED with tmux's own message when it fails or no server runs. */
  async exec(args: readonly string[], options: RunOptions = {}): Promise<string> {
    const r = await this.transport.command(args, options)
    if (r.status === 'ok') return r.output
    throw new HandoffError('TMUX_FAILED', 503, r.status === 'failed' ? r.message : `tmux ${args[0] ?? ''}: no tmux server is running`)
  }

  /** Like exec, but a missing tmux server yields null instead of an error. */
  private async execIfRunning(args: readonly string[]): Promise<string | null> {
    const r = await this.transport.command(args)
    if (r.status === 'ok') return r.output
    if (r.status === 'no-server') return null
    throw new HandoffError('TMUX_FAILED', 503, r.message)
  }

  /**
   * `list-windows -a` with a format: every window of every session. tmux
   * answers "no current target" when it runs but has no session: empty.
   */
  private async allWindows(format: string): Promise<string | null> {
    const r = await this.transport.command(['list-windows', '-a', '-F', format])
    if (r.status === 'ok') return r.output
    if (r.status === 'no-server' || /no current target|no sessions/i.test(r.message)) return null
    throw new HandoffError('TMUX_FAILED', 503, r.message)
  }

  private session(row: Row<typeof SESSION_FIELDS>, windowsActivity: readonly number[]): Session {
    return toSession(row, this.transport.ownClientsOn(row.sessionId), windowsActivity)
  }

  private async sessionRows() {
    const { format, parse } = recordFormat(SESSION_LIST_FIELDS)
    const out = await this.execIfRunning(['list-sessions', '-F', format])
    return out === null ? [] : parse(out)
  }

  /** The sessions by name. No server: empty. */
  async listSessions(): Promise<Session[]> {
    return (await this.sessionRows()).map((r) => this.session(r, r.windowsActivity.split(' ').map(toInt))).sort(byName)
  }

  /** The session named exactly `name`, or SESSION_NOT_FOUND. */
  async findSession(name: string): Promise<Session> {
    const found = (await this.listSessions()).find((s) => s.name === name)
    if (found) return found
    throw sessionNotFound(name)
  }

  async listWindows(session: Session): Promise<Window[]> {
    const { format, parse } = recordFormat(WINDOW_FIELDS)
    const r = await this.transport.command(['list-windows', '-t', session.id, '-F', format])
    if (r.status === 'failed' && /can't find session/i.test(r.message)) throw sessionNotFound(session.name)
    if (r.status === 'no-server') throw sessionNotFound(session.name)
    if (r.status === 'failed') throw new HandoffError('TMUX_FAILED', 503, r.message)
    return parse(r.output).map(toWindow).sort((a, b) => a.index - b.index)
  }

  /** Every session with its windows, in one tmux call: what a live sessions list shows. */
  async listAll(): Promise<{ session: Session; windows: Window[] }[]> {
    const { format, parse } = recordFormat({ ...SESSION_FIELDS, ...WINDOW_FIELDS })
    const out = await this.allWindows(format)
    // A session's fields repeat on each of its windows' rows: the first one stands for it.
    const bySession = new Map<string, { row: Row<typeof SESSION_FIELDS>; windows: Window[] }>()
    for (const row of out === null ? [] : parse(out)) {
      let entry = bySession.get(row.sessionId)
      if (!entry) bySession.set(row.sessionId, (entry = { row, windows: [] }))
      entry.windows.push(toWindow(row))
    }
    return [...bySession.values()]
      .map(({ row, windows }) => ({
        session: this.session(row, windows.map((w) => w.activity)),
        windows: windows.sort((a, b) => a.index - b.index),
      }))
      .sort((a, b) => byName(a.session, b.session))
  }

  /**
   * Window `index` of the session named exactly `sessionName`, as ids and
   * names, or SESSION_NOT_FOUND / WINDOW_NOT_FOUND. One tmux call with only
   * the fields it needs: opening a terminal waits on it.
   */
  async findWindow(sessionName: string, index: number): Promise<WindowTarget> {
    const { format, parse } = recordFormat({ sessionId: '#{session_id}', sessionName: '#{session_name}', windowId: '#{window_id}', windowIndex: '#{window_index}' })
    const out = await this.allWindows(format)
    const rows = (out === null ? [] : parse(out)).filter((r) => r.sessionName === sessionName)
    if (rows.length === 0) throw sessionNotFound(sessionName)
    const row = rows.find((r) => toInt(r.windowIndex) === index && r.windowIndex !== '')
    if (row) return { session: { id: row.sessionId, name: row.sessionName }, window: { id: row.windowId, index } }
    throw new HandoffError('WINDOW_NOT_FOUND', 404, `session ${JSON.stringify(sessionName)} has no window ${index}`)
  }

  /** Creates a detached session in the home folder; BAD_NAME or SESSION_EXISTS when it cannot. */
  async createSession(name: string): Promise<Session> {
    checkNewName(name, 'session')
    if ((await this.sessionRows()).some((r) => r.sessionName === name)) throw sessionExists(name)
    const r = await this.transport.command(['new-session', '-d', '-s', name, '-c', homedir()])
    if (r.status === 'failed') {
      if (/duplicate session/i.test(r.message)) throw sessionExists(name)
      throw new HandoffError('TMUX_FAILED', 503, r.message)
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

  async killSession(session: Session): Promise<void> {
    await this.exec(['kill-session', '-t', session.id])
  }

  async killWindow(window: Pick<Window, 'id'>): Promise<void> {
    await this.exec(['kill-window', '-t', window.id])
  }

  /**
   * The window's active pane as text with colours, wrapped lines joined: up to
   * `lines` lines of history, and the visible screen too unless `historyOnly`.
   * Always a tmux process of its own: the text is any program's output, and a
   * pipe of its own needs no framing that such text could imitate.
   */
  async capturePane(window: Pick<Window, 'id'>, lines: number, options: { historyOnly?: boolean } = {}): Promise<string> {
    const start = String(-Math.max(0, Math.floor(lines)))
    const args = ['capture-pane', '-p', '-e', '-J', '-S', start, ...(options.historyOnly ? ['-E', '-1'] : []), '-t', window.id]
    const r = await runTmux(this.socketName, args, { maxOutputBytes: 32 * 1024 * 1024 })
    if (r.exitCode === 0) return r.stdout
    throw new HandoffError('TMUX_FAILED', 503, `tmux capture-pane exited ${r.exitCode}: ${r.stderr.trim() || 'no message'}`)
  }

  /**
   * Where pane `paneId` (`%5`) is now: its session's name and window's index,
   * found in tmux's own list of every pane (the id is compared here, never
   * given to tmux to resolve). Null when no such pane exists, or no server runs.
   */
  async findPane(paneId: string): Promise<PaneLocation | null> {
    const { format, parse } = recordFormat({ pane: '#{pane_id}', session: '#{session_name}', window: '#{window_index}' })
    const r = await this.transport.command(['list-panes', '-a', '-F', format])
    if (r.status === 'no-server' || (r.status === 'failed' && /no current target|no sessions/i.test(r.message))) return null
    if (r.status === 'failed') throw new HandoffError('TMUX_FAILED', 503, r.message)
    const row = parse(r.output).find((p) => p.pane === paneId)
    return row && /^\d+$/.test(row.window) ? { session: row.session, window: Number(row.window) } : null
  }

  /** Types `inputs` into pane `paneId` (`%5`, checked by PANE_ID_PATTERN), in order. */
  async sendKeys(paneId: string, inputs: readonly KeyInput[]): Promise<void> {
    if (!PANE_ID_PATTERN.test(paneId)) throw new HandoffError('BAD_REQUEST', 400, `not a tmux pane id: ${JSON.stringify(paneId.slice(0, 20))}`)
    for (const command of sendKeysCommands(paneId, inputs)) await this.exec(command)
  }

  /** The binary's and the running server's versions; a mismatch breaks attaching. */
  async versions(): Promise<TmuxVersions> {
    const v = await runTmux(undefined, ['-V'])
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
   * What live terminals are checked against: every session's current name by
   * id and every session:window pair. Null when no server runs.
   */
  async snapshot(): Promise<Snapshot | null> {
    const { format, parse } = recordFormat({ session: '#{session_id}', name: '#{session_name}', window: '#{window_id}' })
    const r = await this.transport.command(['list-windows', '-a', '-F', format])
    if (r.status === 'no-server') return null
    if (r.status === 'failed' && !/no current target|no sessions/i.test(r.message)) throw new HandoffError('TMUX_FAILED', 503, r.message)
    const out = r.status === 'ok' ? r.output : ''
    const rows = parse(out)
    return {
      sessions: new Map(rows.map((r) => [r.session, r.name])),
      windows: new Set(rows.map((r) => `${r.session}:${r.window}`)),
    }
  }

  /**
   * Gives window `windowId` a phone's size (at least MIN_CLAIM_SIZE). The
   * first claim notes on the window, in one command sequence, the size it had
   * and its own `window-size` option, for `releaseSize` (or the next start,
   * if this process dies). Returns false, changing nothing, when the user
   * fixed the window's size (`window-size manual`): the phone pans instead.
   */
  async claimSize(windowId: string, cols: number, rows: number): Promise<boolean> {
    const { format, parse } = recordFormat({ claim: `#{${SIZE_CLAIM_OPTION}}`, policy: '#{window-size}', width: '#{window_width}', height: '#{window_height}' })
    const state = parse(await this.exec(['display-message', '-p', '-t', windowId, format]))[0]
    if (!state) return false
    const size = ['-x', String(Math.max(MIN_CLAIM_SIZE.cols, cols)), '-y', String(Math.max(MIN_CLAIM_SIZE.rows, rows))]
    if (state.claim !== '') {
      await this.exec(['resize-window', '-t', windowId, ...size])
      return true
    }
    if (state.policy === 'manual') return false
    const own = (await this.exec(['show-options', '-w', '-q', '-v', '-t', windowId, 'window-size'])).trim()
    const claim = `${process.pid} ${state.width} ${state.height} ${own || '-'}`
    await this.exec(['set-option', '-w', '-t', windowId, SIZE_CLAIM_OPTION, claim])
    await this.exec(['resize-window', '-t', windowId, ...size])
    return true
  }

  /**
   * Gives a claimed window back: its old size (what it keeps with no desktop
   * client attached) and its own `window-size` option, after which tmux sizes
   * it for the desktop's clients again. Not claimed, or gone: nothing to do.
   */
  async releaseSize(windowId: string): Promise<void> {
    const r = await this.transport.command(['show-options', '-w', '-q', '-v', '-t', windowId, SIZE_CLAIM_OPTION])
    if (r.status !== 'ok') return
    const claim = /^\d+ (\d+) (\d+) (\S+)$/.exec(r.output.trim())
    if (!claim) return
    const [, width = '80', height = '24', own = '-'] = claim
    await this.exec(['resize-window', '-t', windowId, '-x', width, '-y', height]).catch(() => {})
    await this.exec(own === '-' ? ['set-option', '-w', '-u', '-t', windowId, 'window-size'] : ['set-option', '-w', '-t', windowId, 'window-size', own])
    await this.exec(['set-option', '-w', '-u', '-t', windowId, SIZE_CLAIM_OPTION])
  }

  /** Gives back the windows a Handoff server that died was holding at a phone's size; returns how many. */
  async releaseLeftoverClaims(isAlive: (pid: number) => boolean): Promise<number> {
    const { format, parse } = recordFormat({ window: '#{window_id}', claim: `#{${SIZE_CLAIM_OPTION}}` })
    const out = await this.allWindows(format)
    const owners = new Map<string, string>()
    for (const row of out === null ? [] : parse(out)) if (row.claim !== '') owners.set(row.window, row.claim.split(' ')[0] ?? '')
    let released = 0
    for (const [window, owner] of owners) {
      if (/^\d+$/.test(owner) && Number(owner) !== process.pid && isAlive(Number(owner))) continue
      await this.releaseSize(window)
      released++
    }
    return released
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
 */
export async function paneLocation(socketPath: string, paneId: string, timeoutMs = 1_000): Promise<PaneLocation | undefined> {
  if (!PANE_ID_PATTERN.test(paneId) || !socketPath.startsWith('/')) return undefined
  const { format, parse } = recordFormat({ session: '#{session_name}', window: '#{window_index}' })
  try {
    const r = await runTmux(undefined, ['display-message', '-p', '-t', paneId, format], { socketPath, timeoutMs })
    const pane = r.exitCode === 0 ? parse(r.stdout)[0] : undefined
    if (!pane || !/^\d+$/.test(pane.window) || pane.session === '') return undefined
    return { session: pane.session, window: Number(pane.window) }
  } catch {
    return undefined
  }
}
