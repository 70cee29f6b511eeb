import WebSocket from 'ws'

export interface Closed {
  code: number
  reason: string
}

/**
 * A terminal WebSocket client as a test drives it: collects output, records
 * control frames, and acknowledges output like xterm.js does unless told not to.
 */
export class TermClient {
  received = 0
  private chunks: Buffer[] = []
  readonly controls: Record<string, unknown>[] = []
  readonly closed: Promise<Closed>

  private constructor(
    readonly ws: WebSocket,
    ack: boolean,
  ) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        this.controls.push(JSON.parse(data.toString()) as Record<string, unknown>)
        return
      }
      this.received += data.length
      this.chunks.push(data)
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

  /** Everything received so far, as text. */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
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
}
