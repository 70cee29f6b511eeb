import { lstatSync, watch, type FSWatcher } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { HandoffError, isHandoffError } from '../errors.js'
import { CONTROL_CLIENT_DEFAULTS, ControlClient, type ControlClientOptions } from './control-client.js'
import { isNoServer, runTmux, type RunOptions } from './run.js'
import { OneShotTransport, type CommandResult, type TmuxTransport } from './transport.js'

/** What a session's watcher hears from the control client attached to it. */
export interface SessionListener {
  /** Output of a pane of one of the session's windows. */
  output(pane: number, data: Buffer): void
  /** Every notification the client gets (`layout-change`, `pause`, `window-pane-changed` …). */
  notification(name: string, args: string): void
  /** The client serving the session ended (tmux exited, the session went, we were detached). Once. */
  lost(reason: string): void
}

/** A watcher's hold on the control client attached to its session. */
export interface SessionLease {
  readonly client: ControlClient
  release(): void
}

export interface TmuxControlOptions {
  /** A control client that serves no watcher and no hold ends after this long without a command. */
  idleMs?: number
  /** Reconnect delays while held and no client could attach: from `min`, doubling, up to `max`. */
  backoffMs?: { min: number; max: number }
  client?: Partial<Omit<ControlClientOptions, 'socketName' | 'sessionId'>>
  log?: (line: string) => void
}

/**
 * What changed in tmux: `structure` (sessions, windows, names, panes,
 * clients: what live terminals are checked against) or only `activity`
 * (what a sessions list shows besides: activity, command, title, folder).
 */
export type ChangeKind = 'structure' | 'activity'

/**
 * Notifications after which sessions, windows, names, panes or clients may
 * differ: whoever shows or checks them asks tmux again.
 */
const STRUCTURE_NOTIFICATIONS = new Set([
  'sessions-changed',
  'session-renamed',
  'session-window-changed',
  'window-add',
  'window-close',
  'window-renamed',
  'unlinked-window-add',
  'unlinked-window-close',
  'unlinked-window-renamed',
  'layout-change',
  'window-pane-changed',
  'client-session-changed',
  'client-detached',
])

/**
 * Checked by tmux once a second while a live list is open: anything the
 * sessions screen shows that has no notification of its own (activity, the
 * running command, the pane title, the folder). Only our constants are here.
 */
const LIST_SUBSCRIPTION = 'handoff-list::#{S:#{session_id}#{session_attached}#{W:#{window_id}#{window_activity}#{pane_current_command}#{pane_title}#{pane_current_path}}}'

class NoSessions extends Error {}

/** The path of a tmux server's socket (`-L NAME`, or `default`), as tmux makes it. */
export function tmuxSocketPath(socketName: string | undefined): string {
  const uid = process.getuid?.() ?? 0
  return join(process.env.TMUX_TMPDIR || tmpdir(), `tmux-${uid}`, socketName ?? 'default')
}

/**
 * Handoff's line to one tmux server: long-lived control-mode clients
 * (`tmux -C`), each attached to one of the user's sessions, for commands,
 * notifications and pane output. No hidden session, no polling: a client is
 * started on first use, one per session being watched, and ended when nothing
 * needs it; notifications say when anything changed.
 */
export class TmuxControl implements TmuxTransport {
  private readonly clients = new Map<ControlClient, Set<SessionListener>>()
  private readonly attaching = new Map<string, Promise<ControlClient>>()
  /** The session each client is meant to be on; tmux moving it elsewhere ends its watchers. */
  private readonly intended = new WeakMap<ControlClient, string>()
  /** Spare clients being moved to another session. */
  private readonly moving = new Set<ControlClient>()
  private mainAttach: Promise<ControlClient> | undefined
  private readonly changeListeners = new Set<(kind: ChangeKind) => void>()
  private changePending: ChangeKind | null = null
  private holds = 0
  private lastUsed = 0
  private idleTimer: NodeJS.Timeout | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private retryDelay: number
  private socketWatcher: FSWatcher | undefined
  private closed = false
  private readonly idleMs: number
  private readonly backoff: { min: number; max: number }
  private readonly log: (line: string) => void
  /** For when tmux has no session to attach to (or no server): a process per command. */
  private readonly oneShot: OneShotTransport

  constructor(
    readonly socketName: string | undefined,
    private readonly options: TmuxControlOptions = {},
  ) {
    this.idleMs = options.idleMs ?? 30_000
    this.backoff = options.backoffMs ?? { min: 100, max: 5_000 }
    this.retryDelay = this.backoff.min
    this.log = options.log ?? (() => {})
    this.oneShot = new OneShotTransport(socketName)
  }

  /** Runs one command for `Tmux`, over a control client when tmux has a session to attach to. */
  async command(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    // A client that ends under the command (its session killed, tmux gone) is replaced once.
    for (let attempt = 0; ; attempt++) {
      let client: ControlClient
      try {
        client = await this.mainClient()
      } catch (err) {
        if (err instanceof NoSessions) return this.oneShot.command(args, options)
        throw err
      }
      try {
        const lines = await client.command(args)
        return { status: 'ok', output: lines.length > 0 ? `${lines.join('\n')}\n` : '' }
      } catch (err) {
        if (!client.isEnded && isHandoffError(err, 'TMUX_FAILED')) return { status: 'failed', message: err.message }
        if (!client.isEnded || attempt > 0 || isHandoffError(err, 'TMUX_TIMEOUT')) throw err
      }
    }
  }

  /**
   * Runs commands back to back (one line) on any control client: for
   * sequences that must see no pane output in between.
   */
  async run(commands: readonly (readonly string[])[]): Promise<string[][]> {
    const client = await this.mainClient().catch((err: unknown) => {
      if (err instanceof NoSessions) throw new HandoffError('TMUX_FAILED', 503, 'no tmux session is running')
      throw err
    })
    return client.run(commands)
  }

  /**
   * A lease on the control client attached to session `sessionId` (`$3`),
   * attaching one if none is: its output and notifications go to `listener`
   * until `release()` or until the client is lost.
   */
  async watch(sessionId: string, listener: SessionListener): Promise<SessionLease> {
    const client = this.clientOn(sessionId) ?? (await this.attachTo(sessionId))
    const listeners = this.clients.get(client)
    if (!listeners || client.isEnded) throw new HandoffError('TMUX_FAILED', 503, 'the tmux control client ended while attaching')
    listeners.add(listener)
    let released = false
    return {
      client,
      release: () => {
        if (released) return
        released = true
        listeners.delete(listener)
        this.touch()
        this.dropSpareClients(client)
      },
    }
  }

  /**
   * Keeps a control client (and tmux's once-a-second check of what the
   * sessions list shows) for as long as a live list is open. Returns the release.
   */
  hold(): () => void {
    this.holds++
    if (this.holds === 1) void this.subscribeLists()
    let released = false
    return () => {
      if (released) return
      released = true
      this.holds--
      if (this.holds === 0) {
        this.stopRetrying()
        for (const client of this.clients.keys()) void client.command(['refresh-client', '-B', 'handoff-list']).catch(() => {})
        this.touch()
      }
    }
  }

  /**
   * Calls `listener` (at most once per turn of the event loop) after anything
   * in tmux changed, saying whether only activity did.
   */
  onChange(listener: (kind: ChangeKind) => void): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  /** Ends every control client; nothing of ours stays in tmux. */
  close(): void {
    this.closed = true
    clearTimeout(this.idleTimer)
    this.stopRetrying()
    for (const client of [...this.clients.keys()]) client.close()
  }

  ownClientsOn(sessionId: string): number {
    let n = 0
    for (const client of this.clients.keys()) if (!client.isEnded && client.currentSession === sessionId) n++
    return n
  }

  /** How many control clients are attached now. */
  get clientCount(): number {
    return this.clients.size
  }

  private clientOn(sessionId: string): ControlClient | undefined {
    for (const client of this.clients.keys()) if (!client.isEnded && client.currentSession === sessionId) return client
    return undefined
  }

  /** Any live client, else one attached to the best session; NoSessions when tmux has none. */
  private async mainClient(): Promise<ControlClient> {
    this.touch()
    for (const [client, listeners] of this.clients) if (!client.isEnded && listeners.size > 0) return client
    for (const client of this.clients.keys()) if (!client.isEnded) return client
    this.mainAttach ??= this.attachMain().finally(() => (this.mainAttach = undefined))
    return this.mainAttach
  }

  private async attachMain(): Promise<ControlClient> {
    // A session a desktop already has attached shows no change when we attach too.
    const r = await runTmux(this.socketName, ['list-sessions', '-F', '#{session_attached} #{session_id}'])
    if (r.exitCode !== 0) {
      if (isNoServer(r.stderr)) throw new NoSessions()
      throw new HandoffError('TMUX_FAILED', 503, `tmux list-sessions exited ${r.exitCode}: ${r.stderr.trim() || 'no message'}`)
    }
    const sessions = r.stdout
      .split('\n')
      .map((line) => /^(\d+) (\$\d+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]))
    const best = sessions[0]?.[2]
    if (!best) throw new NoSessions()
    return this.attachTo(best)
  }

  /**
   * The control client for session `sessionId`: a spare one moved there
   * (`switch-client`, no process started), else a new one attached to it.
   */
  private attachTo(sessionId: string): Promise<ControlClient> {
    const inFlight = this.attaching.get(sessionId)
    if (inFlight) return inFlight
    const attach = (async () => {
      if (this.closed) throw new HandoffError('SERVER_NOT_RUNNING', 503, 'the Handoff server is stopping')
      return (await this.moveSpare(sessionId)) ?? (await this.startClient(sessionId))
    })().finally(() => this.attaching.delete(sessionId))
    this.attaching.set(sessionId, attach)
    return attach
  }

  /** Moves a client that serves no watcher to session `sessionId`; undefined when there is none (or tmux refuses). */
  private async moveSpare(sessionId: string): Promise<ControlClient | undefined> {
    const spare = [...this.clients].find(([client, listeners]) => listeners.size === 0 && !client.isEnded && !this.moving.has(client))?.[0]
    if (!spare) return undefined
    this.moving.add(spare)
    try {
      await spare.command(['switch-client', '-t', sessionId])
      this.intended.set(spare, sessionId)
      spare.currentSession = sessionId
      return spare
    } catch {
      return undefined
    } finally {
      this.moving.delete(spare)
    }
  }

  private async startClient(sessionId: string): Promise<ControlClient> {
    const listeners = new Set<SessionListener>()
    let attached: ControlClient | undefined
    const client = await ControlClient.attach(
      { socketName: this.socketName, sessionId, ...CONTROL_CLIENT_DEFAULTS, ...this.options.client },
      {
        output: (pane, data) => {
          for (const l of listeners) l.output(pane, data)
        },
        notification: (name, args) => {
          // Moved by someone else (or its session destroyed with detach-on-destroy off): its watchers watch another session no more.
          if (attached && name === 'session-changed') {
            const now = args.split(' ')[0] ?? ''
            if (now !== this.intended.get(attached)) {
              this.intended.set(attached, now)
              this.loseListeners(attached, 'the session ended')
            }
          }
          for (const l of listeners) l.notification(name, args)
          if (STRUCTURE_NOTIFICATIONS.has(name)) this.changed('structure')
          else if (name === 'subscription-changed') this.changed('activity')
        },
        exit: (reason) => {
          if (attached) this.forget(attached, reason)
        },
      },
    )
    attached = client
    this.clients.set(client, listeners)
    this.intended.set(client, sessionId)
    this.retryDelay = this.backoff.min
    if (this.holds > 0) void client.command(['refresh-client', '-B', LIST_SUBSCRIPTION]).catch(() => {})
    this.touch()
    return client
  }

  private loseListeners(client: ControlClient, reason: string): void {
    const listeners = this.clients.get(client)
    if (!listeners) return
    for (const l of [...listeners]) l.lost(reason)
    listeners.clear()
  }

  private forget(client: ControlClient, reason: string): void {
    this.loseListeners(client, reason)
    this.clients.delete(client)
    this.changed('structure')
    if (this.holds > 0 && this.clients.size === 0 && !this.closed) this.scheduleReconnect()
  }

  /** While a live list is open, a lost connection comes back: with backoff, and at once when tmux's socket reappears. */
  private scheduleReconnect(): void {
    if (this.retryTimer || this.closed) return
    this.watchSocket()
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.holds === 0 || this.clients.size > 0 || this.closed) return
      this.mainClient().then(
        () => this.stopRetrying(),
        (err: unknown) => {
          // No server: wait for its socket rather than spawning tmux over and over.
          const noServer = err instanceof NoSessions && !this.socketExists()
          this.retryDelay = Math.min(this.retryDelay * 2, this.backoff.max)
          if (!noServer) this.scheduleReconnect()
        },
      )
    }, this.retryDelay)
    this.retryTimer.unref()
  }

  private socketExists(): boolean {
    try {
      return lstatSync(tmuxSocketPath(this.socketName)).isSocket()
    } catch {
      return false
    }
  }

  private watchSocket(): void {
    if (this.socketWatcher) return
    const path = tmuxSocketPath(this.socketName)
    const dir = dirname(path)
    const name = basename(path)
    try {
      this.socketWatcher = watch(dir, (_event, file) => {
        if (file === name && this.holds > 0 && this.clients.size === 0) {
          this.retryDelay = this.backoff.min
          clearTimeout(this.retryTimer)
          this.retryTimer = undefined
          this.scheduleReconnect()
        }
      })
      this.socketWatcher.on('error', () => this.unwatchSocket())
      this.socketWatcher.unref()
    } catch {
      // No socket folder yet: the backoff timer still retries.
    }
  }

  private unwatchSocket(): void {
    this.socketWatcher?.close()
    this.socketWatcher = undefined
  }

  private stopRetrying(): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.retryDelay = this.backoff.min
    this.unwatchSocket()
  }

  private async subscribeLists(): Promise<void> {
    try {
      const client = await this.mainClient()
      if (this.holds > 0) await client.command(['refresh-client', '-B', LIST_SUBSCRIPTION])
    } catch (err) {
      if (err instanceof NoSessions) this.scheduleReconnect()
      else this.log(`tmux: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  private changed(kind: ChangeKind): void {
    if (this.changePending !== null) {
      if (kind === 'structure') this.changePending = kind
      return
    }
    this.changePending = kind
    setImmediate(() => {
      const pending = this.changePending ?? kind
      this.changePending = null
      for (const listener of [...this.changeListeners]) listener(pending)
    })
  }

  /** Notes a use, and (re)arms the one timer that ends idle clients. */
  private touch(): void {
    this.lastUsed = Date.now()
    if (this.idleTimer || this.closed) return
    this.idleTimer = setTimeout(() => this.endIdle(), this.idleMs)
    this.idleTimer.unref()
  }

  private endIdle(): void {
    this.idleTimer = undefined
    const left = this.lastUsed + this.idleMs - Date.now()
    if (left > 0) {
      this.idleTimer = setTimeout(() => this.endIdle(), left)
      this.idleTimer.unref()
      return
    }
    if (this.holds > 0) return
    for (const [client, listeners] of this.clients) if (listeners.size === 0) client.close()
  }

  /**
   * Clients that serve no watcher end, but one may stay as the line for
   * commands, until idle: the one a watcher just left (`justLeft`), which a
   * phone reopening its session (a reconnect, another window) will want again.
   */
  private dropSpareClients(justLeft: ControlClient): void {
    const watched = [...this.clients.values()].some((listeners) => listeners.size > 0)
    const spares = [...this.clients].filter(([, listeners]) => listeners.size === 0).map(([client]) => client)
    const keep = watched ? undefined : spares.includes(justLeft) ? justLeft : spares[0]
    for (const client of spares) if (client !== keep) client.close()
  }
}
