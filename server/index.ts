import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { getRequestListener } from '@hono/node-server'
import { authenticate, createAuthRoutes } from './auth/index.js'
import { createTerminalServer, type ExitReason } from './bridge/index.js'
import { HandoffError } from './errors.js'
import { decide, type DenyCode } from './gate/index.js'
import { authorize, grantOf, type Peer } from './http/access.js'
import { createApp, type AppEnv } from './http/app.js'
import { audienceFor, checkHost, checkOrigin } from './http/guards.js'
import { LOOPBACK_ADDRESSES, LOOPBACK_HOSTNAMES } from './net/index.js'
import { VERSION, WEB_ROOT } from './paths.js'
import { appendAudit, ensureHome, readDevices, removeFile, watchDevices, writeFileAtomic } from './store/index.js'
import { Tmux } from './tmux/index.js'

export interface ServerOptions {
  /** 0 picks a free port. */
  port: number
  tmuxSocket?: string | undefined
  /** HANDOFF_HOME: the running server records itself in server.json here. */
  home: string
  webRoot?: string
  heartbeatMs?: number
  watchIntervalMs?: number
  log?: (line: string) => void
}

/** What server.json holds while a server runs; `handoff status` reads it. */
export interface ServerRecord {
  pid: number
  port: number
  url: string
  listening: string[]
  tmuxSocket: string | null
  version: string
}

export interface RunningServer extends ServerRecord {
  close(): Promise<void>
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject)
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : port)
    })
  })
}

/** How a live terminal that the gate now refuses is told why. */
function exitReasonFor(code: DenyCode, message: string): ExitReason {
  if (code === 'DEVICE_UNKNOWN') return { code: 'DEVICE_REVOKED', message: 'this device was revoked' }
  if (code === 'DEVICE_EXPIRED') return { code: 'DEVICE_EXPIRED', message }
  return { code: 'ACCESS_CHANGED', message }
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): HandoffError {
  if (err.code === 'EADDRINUSE') {
    return new HandoffError('PORT_IN_USE', 503, `port ${port} is already in use on ${host}; stop what uses it or pick another with --port or HANDOFF_PORT`)
  }
  return new HandoffError('LISTEN_FAILED', 503, `cannot listen on ${host} port ${port}: ${err.message}`, { cause: err })
}

/**
 * Starts Handoff: the HTTP API and web app, and the terminal WebSocket, on
 * loopback only (127.0.0.1 and ::1 where the machine has IPv6).
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const tmux = new Tmux(options.tmuxSocket)
  await ensureHome(options.home)
  try {
    const removed = await tmux.removeOrphanViewers((pid) => {
      try {
        process.kill(pid, 0)
        return true
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM'
      }
    })
    if (removed > 0) log(`removed ${removed} viewer session(s) left by a Handoff server that stopped`)
  } catch (err) {
    log(`tmux: ${err instanceof Error ? err.message : String(err)}`)
  }

  // The port is known only after the first listen, and the Host allowlist needs it.
  let handle: ReturnType<typeof getRequestListener> = async (_req, res) => {
    res.writeHead(503).end()
  }
  const servers: Server[] = []
  const listening: string[] = []
  let port = options.port
  for (const host of LOOPBACK_ADDRESSES) {
    const server = createServer((req, res) => handle(req, res))
    try {
      port = await listen(server, port, host)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      // A machine without IPv6 loopback still serves on 127.0.0.1.
      if (host === '::1' && (e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT')) continue
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
      throw listenError(e, host, port)
    }
    servers.push(server)
    listening.push(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)
  }

  const audience = audienceFor(LOOPBACK_HOSTNAMES, port)
  // Loopback mode: WebAuthn needs a name, so the passkey belongs to `localhost`.
  const origin = `http://localhost:${port}`
  const now = () => Date.now()
  const auth = { home: options.home, rpID: 'localhost', origin, secureCookie: false, now }
  const peerOf = async (address: string | null): Promise<Peer> => ({ address, node: null })
  const app = createApp({
    tmux,
    audience,
    home: options.home,
    identify: (cookie) => authenticate(auth, cookie),
    peerOf,
    authRoutes: createAuthRoutes<AppEnv>({ ...auth, peerAddress: (c) => c.env.incoming.socket.remoteAddress ?? 'unknown' }),
    now,
    webRoot: options.webRoot ?? WEB_ROOT,
    version: VERSION,
    log,
  })
  handle = getRequestListener(app.fetch)
  const terminals = createTerminalServer({
    tmux,
    access: {
      guard: (req) => checkHost(audience, req.headers.host) ?? checkOrigin(audience, req.headers.origin),
      async open(req, session) {
        const device = await authenticate(auth, req.headers.cookie)
        const peer = await peerOf(req.socket.remoteAddress ?? null)
        return authorize(options.home, { device, action: 'attach', session, peer, now: now() })
      },
      async recheck(deviceId, session) {
        const device = (await readDevices(options.home)).find((d) => d.id === deviceId) ?? null
        const verdict = decide({ device: grantOf(device), action: 'attach', session }, now())
        if (verdict.ok) return verdict
        await appendAudit(options.home, {
          deviceId,
          deviceName: device?.name ?? null,
          action: 'attach',
          target: session,
          result: 'deny',
          reason: verdict.code,
          peer: null,
          node: null,
        }).catch(() => {})
        return { ok: false, reason: exitReasonFor(verdict.code, verdict.reason) }
      },
    },
    heartbeatMs: options.heartbeatMs,
    watchIntervalMs: options.watchIntervalMs,
    log,
  })
  for (const server of servers) server.on('upgrade', terminals.handleUpgrade)
  // A revoked or narrowed device loses its terminals within a second, whoever changed it.
  const stopWatchingDevices = watchDevices(options.home, () => void terminals.recheck())

  const record: ServerRecord = {
    pid: process.pid,
    port,
    url: `http://localhost:${port}`,
    listening,
    tmuxSocket: options.tmuxSocket ?? null,
    version: VERSION,
  }
  const recordPath = join(options.home, 'server.json')
  await writeFileAtomic(recordPath, `${JSON.stringify(record, null, 2)}\n`)

  let closing: Promise<void> | undefined
  return {
    ...record,
    close: () =>
      (closing ??= (async () => {
        stopWatchingDevices()
        terminals.close()
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve())
                s.closeAllConnections()
              }),
          ),
        )
        await removeFile(recordPath)
      })()),
  }
}
