import xtermHeadless from '@xterm/headless'
import WebSocket from 'ws'
import type { PaneJson, ServerFrame } from '../../protocol/index.js'

const { Terminal } = xtermHeadless

export interface Closed {
  code: number
  reason: string
}

type Layout = Extract<ServerFrame, { type: 'layout' }>

/**
 * A terminal WebSocket client as a test drives it: collects each pane's
 * output, keeps a headless xterm.js per pane sized from the layout frames (so
 * a test can read the screen a phone would show), records control frames,
 * and acknowledges output like the web app does unless told not to.
 */
export class TermClient {
  received = 0
  private readonly chunks = new Map<number, Buffer[]>()
  private readonly screens = new Map<number, InstanceType<typeof Terminal>>()
  readonly controls: Record<string, unknown>[] = []
  readonly closed: Promise<Closed>

  private constructor(
    readonly ws: WebSocket,
    ack: boolean,
  ) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        const frame = JSON.parse(data.toString()) as Record<string, unknown>
        this.controls.push(frame)
        if (frame.type === 'layout') this.applyLayout(frame as unknown as Layout)
        return
      }
      this.received += data.length
      const pane = data.readUInt32BE(0)
      const bytes = Buffer.from(data.subarray(4))
      const list = this.chunks.get(pane) ?? []
      list.push(bytes)
      this.chunks.set(pane, list)
      this.screen(pane).write(bytes)
      if (ack) this.ack(data.length)
    })
  }

  /** Opens `/api/term/...`; rejects with the HTTP status and body when the upgrade is refused. */
  static open(
    port: number,
    path: string,
    options: { origin?: string | null; host?: string; ack?: boolean; cookie?: string } = {},
  ): Promise<TermClient> {
    const origin = options.origin === undefined ? `http://localhost:${port}` : options.origin
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
      ...(origin === null ? {} : { origin }),
      headers: { host: options.host ?? `localhost:${port}`, ...(options.cookie ? { cookie: options.cookie } : {}) },
    })
    const client = new TermClient(ws, options.ack ?? true)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })))
      })
      ws.once('error', reject)
    })
  }

  /** Everything received so far for one pane (or all of them), as text. */
  text(pane?: number): string {
    const lists = pane === undefined ? [...this.chunks.values()] : [this.chunks.get(pane) ?? []]
    return Buffer.concat(lists.flat()).toString('utf8')
  }

  /** The latest layout frame. */
  get layout(): Layout | undefined {
    return this.controls.filter((c) => c.type === 'layout').at(-1) as Layout | undefined
  }

  /** The panes of the latest layout. */
  get panes(): PaneJson[] {
    return this.layout?.panes ?? []
  }

  /** A pane's screen as the phone's xterm.js shows it: rows of text, trailing blanks trimmed. */
  screenText(pane = this.panes[0]?.id ?? 0): string[] {
    const buffer = this.screen(pane).buffer.active
    const rows: string[] = []
    for (let y = 0; y < this.screen(pane).rows; y++) rows.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '')
    return rows
  }

  /** The headless terminal of a pane (modes, cursor, buffers). */
  terminal(pane = this.panes[0]?.id ?? 0): InstanceType<typeof Terminal> {
    return this.screen(pane)
  }

  /** Waits until everything written to the pane's terminal has been parsed. */
  settle(pane = this.panes[0]?.id ?? 0): Promise<void> {
    return new Promise((resolve) => this.screen(pane).write('', resolve))
  }

  type(keys: string | Buffer): void {
    this.ws.send(typeof keys === 'string' ? Buffer.from(keys) : keys, { binary: true })
  }

  control(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  ack(bytes: number): void {
    this.control({ type: 'ack', bytes })
  }

  close(): Promise<Closed> {
    this.ws.close(1000)
    return this.closed
  }

  private screen(pane: number): InstanceType<typeof Terminal> {
    let term = this.screens.get(pane)
    if (!term) this.screens.set(pane, (term = new Terminal({ cols: 80, rows: 24, allowProposedApi: true, scrollback: 100_000 })))
    return term
  }

  private applyLayout(layout: Layout): void {
    for (const pane of layout.panes) {
      const term = this.screen(pane.id)
      if (term.cols !== pane.cols || term.rows !== pane.rows) term.resize(Math.max(2, pane.cols), Math.max(1, pane.rows))
    }
  }
}
