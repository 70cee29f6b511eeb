import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { HandoffError } from '../errors.js'
import { commandLine } from './command-line.js'
import { ControlParser, ControlStreamError, type ControlEvent } from './control-parser.js'
import { countSpawn, serverArgs, tmuxEnv } from './run.js'

export interface ControlClientOptions {
  /** `-L` name of the tmux server; undefined is the user's default server. */
  socketName: string | undefined
  /** The session to attach to, by id (`$3`). */
  sessionId: string
  /** Seconds a pane's output may lag before tmux pauses it for us (`pause-after`). */
  pauseAfterSeconds: number
  /** A command with no reply after this long means tmux hung: the client is ended. */
  commandTimeoutMs: number
  /** How long attaching may take. */
  attachTimeoutMs: number
}

export const CONTROL_CLIENT_DEFAULTS = { pauseAfterSeconds: 2, commandTimeoutMs: 5_000, attachTimeoutMs: 5_000 } as const

export interface ControlClientEvents {
  /** Output of pane `%pane`, exact bytes. */
  output(pane: number, data: Buffer): void
  /** A notification line (`%window-add @3` → name `window-add`, args `@3`). */
  notification(name: string, args: string): void
  /** The client is gone: tmux exited, detached us, hung, or `close()` was called. Once. */
  exit(reason: string): void
}

/**
 * Called with a line's replies, or why it failed, synchronously in stream
 * order: output that tmux wrote after the reply is handled after this returns.
 */
export type ReplyCallback = (err: HandoffError | null, replies: string[][]) => void

interface PendingLine {
  /** Commands on the line; tmux answers each in turn and skips the rest after an error. */
  commands: number
  replies: string[][]
  done: ReplyCallback
  label: string
}

/**
 * One tmux control-mode client (`tmux -C attach-session -t $ID`), attached to
 * a session for as long as it lives. Commands are written as lines and
 * answered in order; output and notifications arrive as events. tmux writes
 * to our pipe directly, so a command or a byte of output costs no process.
 * Ending this process (or ours) detaches it: nothing of it stays in tmux.
 */
export class ControlClient {
  readonly sessionId: string
  /** The session tmux says this client is attached to now (it can move it). */
  currentSession: string
  private readonly child: ChildProcessWithoutNullStreams
  private readonly parser: ControlParser
  private readonly queue: PendingLine[] = []
  private timer: NodeJS.Timeout | undefined
  private ended = false
  private attached = false
  private readonly ready: Promise<void>
  private stderr = ''

  private constructor(
    private readonly options: ControlClientOptions,
    private readonly events: ControlClientEvents,
  ) {
    this.sessionId = options.sessionId
    this.currentSession = options.sessionId
    countSpawn()
    this.child = spawn(
      'tmux',
      [...serverArgs(options.socketName), '-C', 'attach-session', '-t', options.sessionId, '-f', `pause-after=${options.pauseAfterSeconds}`],
      { stdio: ['pipe', 'pipe', 'pipe'], env: tmuxEnv() },
    )
    this.parser = new ControlParser((event) => this.handle(event))
    let attached: () => void = () => {}
    let failed: (err: HandoffError) => void = () => {}
    this.ready = new Promise((resolve, reject) => {
      attached = resolve
      failed = reject
    })
    this.onAttached = attached
    this.onAttachFailed = failed
    this.child.stdout.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk)
      } catch (err) {
        if (err instanceof ControlStreamError) this.end(err.message)
        else throw err
      }
    })
    this.child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += chunk.toString('utf8')
    })
    this.child.stdin.on('error', () => {}) // EPIPE when tmux is gone; 'exit' says why.
    this.child.once('error', (err: NodeJS.ErrnoException) =>
      this.end(err.code === 'ENOENT' ? 'tmux is not installed or not on PATH' : `could not run tmux: ${err.message}`, err.code === 'ENOENT' ? 'TMUX_NOT_INSTALLED' : 'TMUX_FAILED'),
    )
    this.child.once('exit', () => this.end(this.stderr.trim() || 'the tmux client exited'))
    const attachTimer = setTimeout(() => this.end(`tmux did not attach within ${options.attachTimeoutMs} ms`, 'TMUX_TIMEOUT'), options.attachTimeoutMs)
    void this.ready.then(() => clearTimeout(attachTimer), () => clearTimeout(attachTimer))
  }

  private readonly onAttached: () => void
  private readonly onAttachFailed: (err: HandoffError) => void

  /** Attaches a control client to session `options.sessionId`; rejects with a HandoffError when tmux cannot. */
  static async attach(options: ControlClientOptions, events: ControlClientEvents): Promise<ControlClient> {
    const client = new ControlClient(options, events)
    await client.ready
    return client
  }

  get isEnded(): boolean {
    return this.ended
  }

  /** The tmux client's pid (list-clients shows it as `client_pid`). */
  get pid(): number {
    return this.child.pid ?? -1
  }

  /**
   * Runs commands (each an argument array) as one line, so tmux runs them
   * back to back with no pane output in between. Resolves with each
   * command's output lines; rejects with TMUX_FAILED (tmux's own message) if
   * one fails, TMUX_TIMEOUT if tmux does not answer (the client is then
   * ended), or TMUX_OUTPUT_TOO_LARGE.
   */
  run(commands: readonly (readonly string[])[]): Promise<string[][]> {
    return new Promise((resolve, reject) => this.send(commands, (err, replies) => (err ? reject(err) : resolve(replies))))
  }

  /** Like `run`, with a callback that runs before any event tmux sent after the reply. */
  send(commands: readonly (readonly string[])[], done: ReplyCallback): void {
    if (this.ended) return done(new HandoffError('TMUX_FAILED', 503, 'the tmux control connection has ended'), [])
    const label = commands.map((c) => c[0] ?? '').join(' ; ')
    this.queue.push({ commands: commands.length, replies: [], done, label })
    this.child.stdin.write(`${commandLine(commands)}\n`)
    this.armTimer()
  }

  /** One command; resolves with its output lines. */
  async command(args: readonly string[]): Promise<string[]> {
    const [lines] = await this.run([args])
    return lines ?? []
  }

  /** Ends the client process, which detaches it from tmux. Idempotent. */
  close(): void {
    this.end('closed')
  }

  private handle(event: ControlEvent): void {
    if (event.type === 'output') return this.events.output(event.pane, event.data)
    if (event.type === 'notification') {
      if (event.name === 'session-changed') {
        this.currentSession = event.args.split(' ')[0] ?? this.currentSession
        if (!this.attached) {
          this.attached = true
          this.onAttached()
        }
      } else if (event.name === 'exit') {
        this.end(event.args ? `tmux detached the client: ${event.args}` : 'tmux detached the client')
        return
      }
      return this.events.notification(event.name, event.args)
    }
    if (!event.fromClient) {
      // The attach itself: an error here means the session is gone.
      if (!event.ok) this.end(event.lines.join(' ').trim() || 'tmux could not attach')
      return
    }
    const pending = this.queue[0]
    if (!pending) return
    pending.replies.push(event.lines)
    if (!event.ok || event.truncated || pending.replies.length === pending.commands) {
      this.queue.shift()
      this.armTimer()
      if (event.truncated) pending.done(new HandoffError('TMUX_OUTPUT_TOO_LARGE', 503, `tmux ${pending.label} answered with more than the control connection accepts`), [])
      else if (!event.ok) pending.done(new HandoffError('TMUX_FAILED', 503, `tmux ${pending.label} failed: ${event.lines.join(' ').trim() || 'no message'}`), [])
      else pending.done(null, pending.replies)
    }
  }

  /**
   * One timer for the oldest unanswered line, re-armed in place (`refresh`)
   * rather than made anew for every command: keys are commands too.
   */
  private armTimer(): void {
    if (this.queue.length === 0 || this.ended) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = undefined
      return
    }
    if (this.timer) {
      this.timer.refresh()
      return
    }
    this.timer = setTimeout(() => {
      const label = this.queue[0]?.label ?? ''
      this.end(
        `tmux did not answer within ${this.options.commandTimeoutMs} ms (tmux ${label}); the tmux server may be hung: check it with "tmux${this.options.socketName ? ` -L ${this.options.socketName}` : ''} ls"`,
        'TMUX_TIMEOUT',
      )
    }, this.options.commandTimeoutMs)
  }

  private end(reason: string, code: 'TMUX_FAILED' | 'TMUX_TIMEOUT' | 'TMUX_NOT_INSTALLED' = 'TMUX_FAILED'): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.timer)
    const err = new HandoffError(code, 503, reason)
    if (!this.attached) this.onAttachFailed(err)
    for (const pending of this.queue.splice(0)) pending.done(err, [])
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGHUP')
    this.events.exit(reason)
  }
}
