import { request as httpRequest, type ClientRequest } from 'node:http'

/** One server-sent event as it came over the wire. */
export interface SseFrame {
  event: string
  id: string | undefined
  data: string
}

/**
 * One `GET /api/events` connection over plain http (fetch will not send a
 * custom Host): every frame and comment as it arrives, and whether the
 * server ended it.
 */
export class SseStream {
  readonly frames: SseFrame[] = []
  readonly comments: string[] = []
  status = 0
  ended = false
  private buffer = ''
  private readonly req: ClientRequest

  constructor(port: number, cookie: string, query = '', headers: Record<string, string> = {}) {
    this.req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: `/api/events${query}`,
        headers: { host: `localhost:${port}`, cookie, accept: 'text/event-stream', ...headers },
      },
      (res) => {
        this.status = res.statusCode ?? 0
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => this.feed(chunk))
        res.on('end', () => (this.ended = true))
        res.on('error', () => (this.ended = true))
      },
    )
    this.req.on('error', () => (this.ended = true))
    this.req.end()
  }

  /** The data of every frame of one event type, parsed as JSON, in order. */
  data<T>(event: string): T[] {
    return this.frames.filter((f) => f.event === event).map((f) => JSON.parse(f.data) as T)
  }

  close(): void {
    this.req.destroy()
  }

  private feed(chunk: string): void {
    this.buffer += chunk
    let cut: number
    while ((cut = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, cut)
      this.buffer = this.buffer.slice(cut + 2)
      const frame: SseFrame = { event: 'message', id: undefined, data: '' }
      let isFrame = false
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line)
        else if (line.startsWith('event: ')) ((frame.event = line.slice(7)), (isFrame = true))
        else if (line.startsWith('id: ')) ((frame.id = line.slice(4)), (isFrame = true))
        else if (line.startsWith('data: ')) ((frame.data += line.slice(6)), (isFrame = true))
      }
      if (isFrame) this.frames.push(frame)
    }
  }
}
