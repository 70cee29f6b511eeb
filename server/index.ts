import { join } from 'node:path'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { getRequestListener } from '@hono/node-server'
import { authenticate, createAuthRoutes } from './auth/index.js'
import { createTerminalServer, type ExitReason, type TerminalServer } from './bridge/index.js'
import { createAnswerRoutes, createEventRoutes, startEventPipeline } from './events/index.js'
import { createPushRoutes, loadVapidKeys, pruneSubscriptions, startPushSender, vapidSubject } from './events/push/index.js'
import type { DenyCode } from './gate/index.js'
import { auditPeer, authorize, recheck } from './access/index.js'
import { audienceFor, checkHost, checkWrite, createApp, type AppEnv } from './http/index.js'
import { peerKey, startServing, type Peer } from './net/serving.js'
import { TAILNET_LIMITS } from './net/tailnet.js'
import type { OwnCertificate } from './net/own-cert.js'
import { VERSION, WEB_ROOT } from './paths.js'
import { forTerminalLines } from './untrusted.js'
import { appendAudit, ensureHome, readDevices, removeFile, updateDevices, watchDevices, writeFileAtomic, type DeviceRecord } from './store/index.js'
import { LiveSessions, Tmux, TmuxControl } from './tmux/index.js'

export interface ServerOptions {
  /** 0 picks a free port. */
  port: number
  /**
   * `loopback` (the default): http on 127.0.0.1 and ::1, for this machine and
   * tests. `tailnet`: https on the Tailscale addresses with the MagicDNS name,
   * falling back to loopback, with a note saying why, when that cannot be.
   */
  mode?: 'loopback' | 'tailnet'
  /** On the tailnet: the user's own certificate instead of `tailscale cert`'s (docs/tailnet.md). */
  certificate?: OwnCertificate | undefined
  tmuxSocket?: string | undefined
  /** HANDOFF_HOME: devices, the audit log, keys; the running server records itself in server.json. */
  home: string
  webRoot?: string
  heartbeatMs?: number
  /** How long a sign-in lasts (ms); default 12 hours. */
  sessionTtlMs?: number
  log?: (line: string) => void
}

/** What server.json holds while a server runs; `handoff status` and `handoff pair` read it. */
export interface ServerRecord {
  pid: number
  port: number
  url: string
  mode: 'loopback' | 'tailnet'
  listening: string[]
  tmuxSocket: string | null
  version: string
}

export interface RunningServer extends ServerRecord {
  /** Why the server runs as it does (a fallback to loopback, and how to fix it). */
  notes: string[]
  close(): Promise<void>
}

/** How a live terminal that the gate now refuses is told why. */
function exitReasonFor(code: DenyCode, message: string): ExitReason {
  if (code === 'DEVICE_UNKNOWN') return { code: 'DEVICE_REVOKED', message: 'this device was revoked' }
  if (code === 'DEVICE_EXPIRED') return { code: 'DEVICE_EXPIRED', message }
  return { code: 'ACCESS_CHANGED', message }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Starts Handoff: the HTTP API, the web app and the terminal WebSockets, with
 * every request and terminal decided by the gate for a signed-in device.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  // Log lines quote names, paths and tmux's messages: escaped, so none acts on the terminal showing the log.
  const log = options.log ?? ((line: string) => process.stderr.write(`${forTerminalLines(line)}\n`))
  const { home } = options
  // One control connection to tmux for every command, notification and terminal.
  const control = new TmuxControl(options.tmuxSocket, { log })
  const tmux = new Tmux(control)
  // The sessions list open apps see live: tmux's own notifications, no polling.
  const sessions = new LiveSessions(control, tmux, { log })
  await ensureHome(home)
  try {
    // A process of its own: starting up attaches nothing to the user's tmux.
    const released = await new Tmux(options.tmuxSocket).releaseLeftoverClaims(isAlive)
    if (released > 0) log(`gave ${released} window(s) back their size, held for a phone by a Handoff server that stopped`)
  } catch (err) {
    log(`tmux: ${err instanceof Error ? err.message : String(err)}`)
  }

  // The port, names and origin are known only once listening; requests wait for the app.
  let handle: ReturnType<typeof getRequestListener> = async (_req, res) => void res.writeHead(503).end()
  let terminals: TerminalServer | undefined
  const serving = await startServing({
    mode: options.mode ?? 'loopback',
    port: options.port,
    home,
    certificate: options.certificate,
    // `handoff status` reads where the server listens from server.json.
    onRebind: (listening) => void recordListening(listening).catch((err: unknown) => log(`server.json: ${err instanceof Error ? err.message : String(err)}`)),
    onRequest: (req, res) => void handle(req, res),
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      terminals ? terminals.handleUpgrade(req, socket, head) : socket.destroy(),
    log,
  })

  const audience = audienceFor(serving.hostnames, serving.port, serving.scheme)
  const now = () => Date.now()
  const events = await startEventPipeline(home, { log })
  const vapid = await loadVapidKeys(home)
  // Pushes skip a device that is looking at the event's tab right now.
  const push = startPushSender({
    home,
    vapid,
    subject: vapidSubject(serving.origin),
    subscribe: events.subscribe,
    viewers: () => terminals?.viewers() ?? [],
    log,
  })
  const auth = {
    home,
    rpID: serving.rpID,
    origin: serving.origin,
    secureCookie: serving.scheme === 'https',
    now,
    ...(options.sessionTtlMs === undefined ? {} : { tokenTtlMs: options.sessionTtlMs }),
  }

  /**
   * The device signed in on this request, if any. On the tailnet, a device is
   * bound to the tailnet user it paired from (and, with `sameNodeOnly`, to its
   * node): the same cookie from another user's node is worthless. A device
   * paired on loopback is bound by its first tailnet request.
   */
  async function signedIn(cookie: string | undefined, peer: Peer): Promise<DeviceRecord | null> {
    const device = await authenticate(auth, cookie)
    if (!device || peer.user === null) return device
    if (device.tailnetUser === null) {
      await updateDevices(home, (devices) =>
        devices.map((d) => (d.id === device.id && d.tailnetUser === null ? { ...d, tailnetUser: peer.user, tailnetNode: peer.node } : d)),
      )
      return device
    }
    return isBoundTo(device, peer) ? device : null
  }

  /** Whether a device may be used from this tailnet peer: its user, and with `sameNodeOnly` its node. */
  const isBoundTo = (device: DeviceRecord, peer: Peer): boolean =>
    device.tailnetUser === peer.user && (!device.sameNodeOnly || device.tailnetNode === peer.node)

  /**
   * Why a live terminal's tailnet peer may no longer use it, or null: whois
   * asked again, uncached, so a node removed from the tailnet, expired, or now
   * another user's loses its terminals.
   */
  async function peerProblem(device: DeviceRecord, address: string | null): Promise<string | null> {
    if (serving.mode !== 'tailnet') return null
    try {
      const peer = await serving.peerOf(address, { fresh: true })
      if (peer.user === null || device.tailnetUser === null || isBoundTo(device, peer)) return null
      return 'this device is bound to another tailnet user or node'
    } catch (err) {
      return err instanceof Error ? err.message : String(err)
    }
  }

  const app = createApp({
    tmux,
    audience,
    home,
    identify: signedIn,
    peerOf: serving.peerOf,
    routes: [
      createAuthRoutes<AppEnv>({
        ...auth,
        peerKey: (c) => peerKey(c.get('peer')),
        peerTailnet: (c) => c.get('peer'),
        auditPeer: (c) => auditPeer(c.get('peer')),
      }),
      createEventRoutes({ pipeline: events, sessions, home, now }),
      createAnswerRoutes({ pipeline: events, tmux, home, now }),
      createPushRoutes({ home, publicKey: vapid.publicKey, sender: push, now }),
    ],
    now,
    webRoot: options.webRoot ?? WEB_ROOT,
    version: VERSION,
    log,
  })
  handle = getRequestListener(app.fetch)
  terminals = createTerminalServer({
    tmux,
    control,
    access: {
      guard: (req) => {
        const fetchSite = req.headers['sec-fetch-site']
        return checkHost(audience, req.headers.host) ?? checkWrite(audience, { origin: req.headers.origin, fetchSite: Array.isArray(fetchSite) ? fetchSite[0] : fetchSite })
      },
      async open(req, session) {
        const peer = await serving.peerOf(req.socket.remoteAddress ?? null)
        const device = await signedIn(req.headers.cookie, peer)
        return authorize(home, { device, action: 'attach', session, peer, now: now() })
      },
      async recheck(deviceId, session, peerAddress) {
        const device = (await readDevices(home)).find((d) => d.id === deviceId) ?? null
        const verdict = recheck(home, { deviceId, device, action: 'attach', session, peer: null, now: now() })
        if (!verdict.ok) return { ok: false, reason: exitReasonFor(verdict.code, verdict.reason) }
        const problem = device && (await peerProblem(device, peerAddress))
        if (!problem) return verdict
        const denied = { deviceId, deviceName: device.name, action: 'attach', target: session, result: 'deny', reason: 'PEER_UNVERIFIED', peer: peerAddress, node: null } as const
        void appendAudit(home, denied).catch(() => {})
        return { ok: false, reason: { code: 'ACCESS_CHANGED', message: problem } }
      },
    },
    heartbeatMs: options.heartbeatMs,
    log,
  })
  // A revoked or narrowed device loses its terminals within a second, whoever changed it, and a revoked one its pushes.
  const stopWatchingDevices = watchDevices(home, () => {
    void terminals?.recheck()
    void readDevices(home)
      .then((devices) => pruneSubscriptions(home, devices))
      .catch((err: unknown) => log(`push: ${err instanceof Error ? err.message : String(err)}`))
  })

  // On the tailnet a peer can change under an open terminal (its node removed
  // or expired, its address given to another node): name each one again.
  const peerRecheck = serving.mode === 'tailnet' ? setInterval(() => void terminals?.recheck(), TAILNET_LIMITS.peerRecheckMs) : undefined
  peerRecheck?.unref()

  const record: ServerRecord = {
    pid: process.pid,
    port: serving.port,
    url: serving.origin,
    mode: serving.mode,
    listening: serving.listening,
    tmuxSocket: options.tmuxSocket ?? null,
    version: VERSION,
  }
  const recordPath = join(home, 'server.json')
  await writeFileAtomic(recordPath, `${JSON.stringify(record, null, 2)}\n`)

  async function recordListening(listening: string[]): Promise<void> {
    record.listening = listening
    if (!closing) await writeFileAtomic(recordPath, `${JSON.stringify(record, null, 2)}\n`)
  }

  let closing: Promise<void> | undefined
  return {
    ...record,
    notes: serving.notes,
    close: () =>
      (closing ??= (async () => {
        stopWatchingDevices()
        clearInterval(peerRecheck)
        terminals?.close()
        control.close()
        push.stop()
        await events.stop()
        await serving.close()
        await removeFile(recordPath)
      })()),
  }
}
