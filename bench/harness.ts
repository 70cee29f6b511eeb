import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as pty from 'node-pty'
import WebSocket from 'ws'
import type { PaneHeaderBytes } from '../protocol/index.js'

/** Environment for every tmux and shell the bench starts: never inside the user's tmux. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  delete env.TMUX
  delete env.TMUX_PANE
  return { ...env, TERM: 'xterm-256color', ...extra }
}

/**
 * The built file of a bench script (`dist/bench/NAME`): a process of its own
 * runs JavaScript, also when the caller runs from source (the test suite,
 * after `npm run build`).
 */
export function builtBenchScript(name: string): string {
  const here = fileURLToPath(import.meta.url)
  return here.endsWith('.ts') ? join(dirname(here), '..', 'dist', 'bench', name) : join(dirname(here), name)
}

/** A private tmux server (`-L handoff-bench-<pid>`, our own config), never the user's. */
export class BenchTmux {
  readonly socket = `handoff-bench-${process.pid}`

  constructor(readonly configPath: string) {}

  run(...args: string[]): string {
    return execFileSync('tmux', ['-u', '-L', this.socket, '-f', this.configPath, ...args], {
      encoding: 'utf8',
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 5_000,
    })
  }

  /** argv of a plain `tmux attach` to one window, as a desktop terminal would run it. */
  attachArgv(target: string): string[] {
    return ['-u', '-L', this.socket, '-f', this.configPath, 'attach', '-t', target]
  }

  /** Stops the server and removes its socket file, which tmux leaves behind. */
  kill(): void {
    try {
      this.run('kill-server')
    } catch {
      // Already gone.
    }
    const uid = process.getuid?.() ?? 0
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, this.socket), { force: true })
  }
}

/** One terminal as the bench drives it: a pty of its own or a Handoff WebSocket. */
export interface Term {
  write(keys: string): void
  onData(listener: (chunk: Buffer) => void): () => void
  /** Bytes of output received so far. */
  readonly received: number
  close(): Promise<void>
}

export const PTY_SIZE = { cols: 80, rows: 24 } as const

/** A process in a pty of our own (node-pty, no network). */
export class PtyTerm implements Term {
  received = 0
  private readonly listeners = new Set<(chunk: Buffer) => void>()
  private readonly exited: Promise<void>
  private readonly p: pty.IPty

  constructor(file: string, args: string[], env: Record<string, string> = cleanEnv()) {
    const p = pty.spawn(file, args, { name: 'xterm-256color', ...PTY_SIZE, cwd: process.cwd(), env, encoding: null })
    this.p = p
    const onData = p.onData as unknown as pty.IEvent<Buffer>
    onData((chunk) => {
      this.received += chunk.length
      for (const l of this.listeners) l(chunk)
    })
    this.exited = new Promise((resolve) => p.onExit(() => resolve()))
  }

  get pid(): number {
    return this.p.pid
  }

  write(keys: string): void {
    this.p.write(keys)
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async close(): Promise<void> {
    this.p.kill()
    await Promise.race([this.exited, sleep(2_000)])
  }
}

/** Acknowledge output in batches of this many bytes, as the web app does (docs/protocol.md). */
const ACK_BATCH_BYTES = 64 * 1024

/** Bytes before a pane's output in a server → client binary frame: its pane number, big-endian (protocol/terminal.ts). */
const PANE_HEADER_BYTES: PaneHeaderBytes = 4

/**
 * A Handoff terminal WebSocket on loopback that acknowledges output like the
 * web app. Binary frames are `<4-byte pane number><bytes>`: listeners get the
 * bytes without the header (the bench's windows have one pane each), acks
 * count whole frame lengths, as the protocol asks. Text frames (`layout`,
 * `sync`, `exit`) are kept in `controls`.
 */
export class WsTerm implements Term {
  /** Pane output bytes received (headers not counted): what the terminal draws. */
  received = 0
  /** Whole binary frame bytes received (headers counted): what acks count. */
  frameBytes = 0
  /** Text frames, parsed, in arrival order. */
  readonly controls: { type: string; [key: string]: unknown }[] = []
  /** `performance.now()` when the upgrade completed ('open'). */
  openedAt: number | undefined
  /** `performance.now()` when the first text frame (the `layout`) arrived. */
  firstControlAt: number | undefined
  /**
   * Resolves with `performance.now()` at the first binary frame, however
   * early it came: frames that arrive with the upgrade's response are
   * handled before code awaiting 'open' runs, so a listener added then
   * would miss them.
   */
  readonly firstFrame: Promise<number>
  /** The first binary frame's length, header included. */
  firstFrameBytes = 0
  private resolveFirstFrame: (at: number) => void = () => {}
  private unacked = 0
  private readonly listeners = new Set<(chunk: Buffer) => void>()
  private readonly closed: Promise<void>

  /** The signed-in device's cookie, set once the server process reports it. */
  static cookie = ''

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    this.firstFrame = new Promise((resolve) => (this.resolveFirstFrame = resolve))
    ws.once('open', () => (this.openedAt = performance.now()))
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        this.firstControlAt ??= performance.now()
        try {
          this.controls.push(JSON.parse(data.toString('utf8')) as { type: string })
        } catch {
          this.controls.push({ type: 'unparsable', text: data.toString('utf8').slice(0, 200) })
        }
        return
      }
      if (data.length < PANE_HEADER_BYTES) {
        // Not the protocol: end this terminal, so whatever waits on it fails with a timeout.
        process.stderr.write(`bench: a binary frame of ${data.length} bytes, shorter than its pane header; closing the socket\n`)
        ws.close(1002, 'frame shorter than its pane header')
        return
      }
      if (this.firstFrameBytes === 0) {
        this.firstFrameBytes = data.length
        this.resolveFirstFrame(performance.now())
      }
      const bytes = data.subarray(PANE_HEADER_BYTES)
      this.received += bytes.length
      this.frameBytes += data.length
      this.unacked += data.length
      if (this.unacked >= ACK_BATCH_BYTES) {
        ws.send(JSON.stringify({ type: 'ack', bytes: this.unacked }))
        this.unacked = 0
      }
      for (const l of this.listeners) l(bytes)
    })
  }

  /**
   * Creates the socket; resolves at 'open'. Timing starts at the `new
   * WebSocket` call. `history`: lines of history with the first screen
   * (`?history=`, left out for the server's default of 0).
   */
  static connect(
    port: number,
    session: string,
    window: number,
    options: { history?: number } = {},
  ): { ws: WebSocket; term: WsTerm; opened: Promise<void> } {
    const query = new URLSearchParams({ cols: String(PTY_SIZE.cols), rows: String(PTY_SIZE.rows) })
    if (options.history !== undefined) query.set('history', String(options.history))
    const path = `/api/term/${encodeURIComponent(session)}/${window}?${query}`
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
      origin: `http://localhost:${port}`,
      headers: { host: `localhost:${port}`, cookie: WsTerm.cookie },
    })
    const term = new WsTerm(ws)
    const opened = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade to ${path} refused: HTTP ${res.statusCode}`)))
      ws.once('error', reject)
    })
    return { ws, term, opened }
  }

  static async open(port: number, session: string, window: number, options: { history?: number } = {}): Promise<WsTerm> {
    const { term, opened } = WsTerm.connect(port, session, window, options)
    await opened
    return term
  }

  /** Whether the socket is still open (an idle terminal must stay so). */
  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  write(keys: string): void {
    this.ws.send(Buffer.from(keys), { binary: true })
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000)
    await Promise.race([this.closed, sleep(2_000)])
    this.ws.terminate()
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Resolves when `needle` appears in the output from now on (matched across
 * chunk boundaries, latin1), rejects after `timeoutMs`.
 */
export function waitForText(term: Term, needle: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = ''
    const off = term.onData((chunk) => {
      const text = tail + chunk.toString('latin1')
      if (text.includes(needle)) {
        clearTimeout(timer)
        off()
        resolve()
        return
      }
      tail = text.slice(-needle.length)
    })
    const timer = setTimeout(() => {
      off()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${JSON.stringify(needle)}`))
    }, timeoutMs)
  })
}

/** Resolves as `promise` does, or rejects after `timeoutMs` saying what did not happen. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Resolves with the time of the first output chunk from now on. */
export function firstOutput(term: Term, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const off = term.onData(() => {
      clearTimeout(timer)
      off()
      resolve(performance.now())
    })
    const timer = setTimeout(() => {
      off()
      reject(new Error(`no output within ${timeoutMs} ms`))
    }, timeoutMs)
  })
}

/** Resolves once no output has arrived for `quietMs`. */
export function settle(term: Term, quietMs: number): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(done, quietMs)
    const off = term.onData(() => {
      clearTimeout(timer)
      timer = setTimeout(done, quietMs)
    })
    function done() {
      off()
      resolve()
    }
  })
}

/** The server in its own process (bench/server-process.ts), with its one-line request protocol on stdin/stdout. */
export class ServerProcess {
  /** Requests waiting for their reply line, in order. */
  private readonly waiting: ((line: string) => void)[] = []

  /** `performance.now()` when the server process said it listens. */
  readonly startedAt = performance.now()

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
    readonly port: number,
  ) {}

  static start(tmuxSocket: string, home: string, nodeArgs: string[] = []): Promise<ServerProcess> {
    const script = builtBenchScript('server-process.js')
    const child = spawn(process.execPath, [...nodeArgs, script, tmuxSocket, home], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: cleanEnv(),
    })
    return new Promise((resolve, reject) => {
      let out = ''
      let server: ServerProcess | undefined
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error('the server process did not print its port within 10 s'))
      }, 10_000)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`the server process exited before listening (code ${code}, signal ${signal})`))
      })
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8')
        let newline: number
        while ((newline = out.indexOf('\n')) !== -1) {
          const line = out.slice(0, newline)
          out = out.slice(newline + 1)
          if (server) {
            server.receive(line)
            continue
          }
          clearTimeout(timer)
          const { port, pid, cookie } = JSON.parse(line) as { port: number; pid: number; cookie: string }
          WsTerm.cookie = cookie
          server = new ServerProcess(child, pid, port)
          resolve(server)
        }
      })
    })
  }

  /** Sends one request line; resolves with the server's JSON reply (bench/server-process.ts lists them). */
  async ask<T>(request: string): Promise<T> {
    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server process did not answer ${JSON.stringify(request)} within 5 s`)), 5_000)
      this.waiting.push((line) => {
        clearTimeout(timer)
        resolve(line)
      })
    })
    this.child.stdin?.write(`${request}\n`)
    const value = JSON.parse(await reply) as T & { error?: string }
    if (value.error) throw new Error(`the server process: ${value.error}`)
    return value
  }

  /** How many tmux processes the server process has started so far (tmuxSpawns() there). */
  async tmuxSpawns(): Promise<number> {
    return (await this.ask<{ spawns: number }>('spawns')).spawns
  }

  /** Bytes of objects and buffers the server process holds (its V8 heap without compiled code, plus external memory). */
  async objectBytes(): Promise<number> {
    return (await this.ask<{ objectBytes: number }>('heap')).objectBytes
  }

  /** A full garbage collection in the server process (started with --expose-gc), then a pause for V8 to give the pages back. */
  async collectGarbage(): Promise<void> {
    await this.ask('gc')
    await sleep(300)
  }

  private receive(line: string): void {
    // A line nobody asked for is not a reply to anything.
    this.waiting.shift()?.(line)
  }

  /** Stops the server gracefully, then forcibly after 3 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.child.kill('SIGTERM')
    if (await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)])) return
    this.child.kill('SIGKILL')
    await exited
  }
}

/** Proportional set size of one process, in bytes (/proc/PID/smaps_rollup). */
export function pssBytes(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1]
  if (kb === undefined) throw new Error(`no Pss line in /proc/${pid}/smaps_rollup`)
  return Number(kb) * 1024
}

/** `pid` and all its descendants, from the parent pids in /proc/N/stat. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid) ?? []
    list.push(Number(name))
    children.set(ppid, list)
  }
  const tree: number[] = []
  const todo = [pid]
  while (todo.length > 0) {
    const p = todo.pop() as number
    tree.push(p)
    todo.push(...(children.get(p) ?? []))
  }
  return tree
}

/** PSS summed over a process and its descendants, in bytes. */
export function treePssBytes(pid: number): { bytes: number; processes: number } {
  let bytes = 0
  let processes = 0
  for (const p of processTree(pid)) {
    try {
      bytes += pssBytes(p)
      processes++
    } catch {
      // exited meanwhile
    }
  }
  return { bytes, processes }
}

let clockTicks: number | undefined
/** Clock ticks per second of the times in /proc/PID/stat (`getconf CLK_TCK`, almost always 100). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/**
 * CPU time of one process from /proc/PID/stat, in seconds: its own
 * (utime + stime) and that of its children it has reaped (cutime + cstime).
 */
export function processCpu(pid: number): { own: number; reaped: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime field 14.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  const tick = clockTicksPerSecond()
  const at = (field: number) => f[field - 3] ?? NaN
  return { own: (at(14) + at(15)) / tick, reaped: (at(16) + at(17)) / tick }
}

/**
 * CPU seconds used so far by a process and everything it started: its own,
 * its reaped children's, and each live descendant's (own and reaped). The
 * difference of two readings is the tree's CPU in between, also when a child
 * exits meanwhile (its time moves from the live sum to the parent's reaped).
 */
export function treeCpu(pid: number): { seconds: number; own: number; children: number; liveChildren: number } {
  const root = processCpu(pid)
  let children = root.reaped
  let liveChildren = 0
  for (const p of processTree(pid)) {
    if (p === pid) continue
    try {
      const c = processCpu(p)
      children += c.own + c.reaped
      liveChildren++
    } catch {
      // exited meanwhile: its time is in the parent's reaped once reaped
    }
  }
  return { seconds: root.own + children, own: root.own, children, liveChildren }
}
