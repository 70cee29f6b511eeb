import { request as httpRequest } from 'node:http'
import { startServer, type RunningServer } from '../../server/index.js'
import { addSignedInDevice, type TestDevice } from './device.js'
import { PrivateTmux, tempHome } from './tmux.js'

export interface Harness {
  tmux: PrivateTmux
  server: RunningServer
  home: string
  origin: string
  /** A signed-in device with full access to every session. */
  device: TestDevice
  stop(): Promise<void>
}

/** A real Handoff server on a loopback port of its own, over a private tmux server. */
export async function startHarness(options: { heartbeatMs?: number } = {}): Promise<Harness> {
  const tmux = new PrivateTmux()
  const { home, remove } = tempHome()
  const server = await startServer({ port: 0, tmuxSocket: tmux.socket, home, log: () => {}, ...options })
  const origin = `http://localhost:${server.port}`
  return {
    tmux,
    server,
    home,
    origin,
    device: await addSignedInDevice(home, origin),
    async stop() {
      await server.close()
      tmux.kill()
      remove()
    },
  }
}

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: unknown
}

/** One HTTP request with full control of headers (fetch will not send a custom Host). */
export function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: `localhost:${port}`, ...options.headers } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** The error code of an error reply, for asserting codes rather than text. */
export const errorCode = (r: Reply): string | undefined => (r.json as { error?: { code?: string } } | undefined)?.error?.code
