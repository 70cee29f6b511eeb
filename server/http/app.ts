import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { HttpBindings } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { secureHeaders } from 'hono/secure-headers'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
import { deviceState, visibleSessions, type Action } from '../gate/index.js'
import { updateDevices, type DeviceRecord } from '../store/index.js'
import { checkNewName, parseWindowIndex, type Tmux } from '../tmux/index.js'
import { authorize, grantOf, type Allowed, type Peer } from '../access/index.js'
import { jsonBody } from './body.js'
import { sessionJson, windowJson } from './json.js'
import { requireHost, requireOriginOnWrites, type Audience } from './guards.js'

export const HTTP_LIMITS = {
  /** One request body; the API only takes small JSON objects. */
  bodyBytes: 16 * 1024,
} as const

/** One typed environment for every route: the node request, and who is asking. */
export type AppEnv = {
  Bindings: HttpBindings
  Variables: { device: DeviceRecord | null; peer: Peer }
}

export interface AppDeps {
  tmux: Tmux
  audience: Audience
  /** HANDOFF_HOME: devices and the audit log. */
  home: string
  /** The signed-in device from the request's cookie, checked against its current record; null if none. */
  identify: (cookieHeader: string | undefined, peer: Peer) => Promise<DeviceRecord | null>
  /** Who the peer is on the network (tailnet node where known). */
  peerOf: (address: string | null) => Promise<Peer>
  /** Sub-apps that own their own /api paths (pairing and sign-in, the event stream, Web Push), mounted as they are. */
  routes: Hono<AppEnv>[]
  now: () => number
  /** The built web app (vite's output). */
  webRoot: string
  version: string
  log: (line: string) => void
}

export const HISTORY_LIMITS = { defaultLines: 1_000, maxLines: 50_000 } as const

/** `?lines=`: how much history, 0 to 50000; absent means 1000. */
function parseLines(raw: string | undefined): number {
  if (raw === undefined) return HISTORY_LIMITS.defaultLines
  if (/^\d{1,6}$/.test(raw) && Number(raw) <= HISTORY_LIMITS.maxLines) return Number(raw)
  throw new HandoffError('BAD_REQUEST', 400, `"lines" must be a whole number 0-${HISTORY_LIMITS.maxLines}, got ${JSON.stringify(raw.slice(0, 20))}`)
}

const NewSessionBody = v.strictObject({ name: v.string() })
const NewWindowBody = v.strictObject({ name: v.optional(v.string()) })


const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  // xterm.js positions its layers with inline styles.
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  workerSrc: ["'self'"],
  manifestSrc: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  objectSrc: ["'none'"],
}

/** The HTTP side of Handoff: guards, identity, the gate, the JSON API over tmux, and the web app. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { tmux } = deps
  const app = new Hono<AppEnv>()

  app.use(requireHost(deps.audience))
  app.use(secureHeaders({ contentSecurityPolicy: CSP, referrerPolicy: 'no-referrer', crossOriginEmbedderPolicy: false }))
  app.use(requireOriginOnWrites(deps.audience))
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: HTTP_LIMITS.bodyBytes,
      onError: () => {
        throw new HandoffError('BODY_TOO_LARGE', 413, `request bodies are limited to ${HTTP_LIMITS.bodyBytes} bytes`)
      },
    }),
  )

  app.use('/api/*', async function identify(c, next) {
    const peer = await deps.peerOf(c.env.incoming.socket.remoteAddress ?? null)
    c.set('peer', peer)
    c.set('device', await deps.identify(c.req.header('cookie'), peer))
    await next()
  })

  // Every API action is decided by the gate, on the device's current record, and audited.
  const allow = (c: Context<AppEnv>, action: Action, session?: string): Promise<Allowed> =>
    authorize(deps.home, { device: c.get('device'), action, ...(session === undefined ? {} : { session }), peer: c.get('peer'), now: deps.now() })

  app.get('/api/health', (c) => c.json({ ok: true, version: deps.version }))

  for (const routes of deps.routes) app.route('/', routes)

  app.get('/api/me', (c) => {
    const device = c.get('device')
    const state = deviceState(grantOf(device), deps.now())
    if (!device || state === 'unknown' || state === 'hard-expired') throw new HandoffError('NOT_SIGNED_IN', 401, 'sign in with your passkey first')
    return c.json({
      device: {
        id: device.id,
        name: device.name,
        sessions: device.sessions,
        readOnly: device.readOnly,
        expiresAt: device.expiresAt,
        state,
        renewalRequested: device.renewalRequestedAt !== null,
      },
    })
  })

  app.post('/api/renew', async (c) => {
    const { deviceId } = await allow(c, 'renew')
    const at = deps.now()
    await updateDevices(deps.home, (devices) => devices.map((d) => (d.id === deviceId ? { ...d, renewalRequestedAt: d.renewalRequestedAt ?? at } : d)))
    return c.body(null, 204)
  })

  app.get('/api/sessions', async (c) => {
    await allow(c, 'list')
    const sessions = await tmux.listSessions()
    const visible = new Set(visibleSessions(grantOf(c.get('device')), sessions.map((s) => s.name)))
    return c.json(sessions.filter((s) => visible.has(s.name)).map(sessionJson))
  })

  app.post('/api/sessions', async (c) => {
    const name = checkNewName((await jsonBody(c.req.raw, NewSessionBody)).name, 'session')
    await allow(c, 'create-session', name)
    return c.json(sessionJson(await tmux.createSession(name)), 201)
  })

  app.delete('/api/sessions/:session', async (c) => {
    await allow(c, 'kill-session', c.req.param('session'))
    await tmux.killSession(await tmux.findSession(c.req.param('session')))
    return c.body(null, 204)
  })

  app.get('/api/sessions/:session/windows', async (c) => {
    await allow(c, 'windows', c.req.param('session'))
    const session = await tmux.findSession(c.req.param('session'))
    return c.json((await tmux.listWindows(session)).map(windowJson(session)))
  })

  app.post('/api/sessions/:session/windows', async (c) => {
    const { name } = await jsonBody(c.req.raw, NewWindowBody)
    await allow(c, 'create-window', c.req.param('session'))
    const session = await tmux.findSession(c.req.param('session'))
    return c.json(windowJson(session)(await tmux.createWindow(session, name)), 201)
  })

  // The pane's history as text: the terminal fills its scrollback with it, reader mode shows it all.
  app.get('/api/sessions/:session/windows/:index/history', async (c) => {
    const index = parseWindowIndex(c.req.param('index'))
    const lines = parseLines(c.req.query('lines'))
    const screen = c.req.query('screen')
    if (screen !== undefined && screen !== '0' && screen !== '1') throw new HandoffError('BAD_REQUEST', 400, `"screen" must be 0 or 1, got ${JSON.stringify(screen.slice(0, 20))}`)
    await allow(c, 'attach', c.req.param('session'))
    const { window } = await tmux.findWindow(c.req.param('session'), index)
    const text = await tmux.capturePane(window, lines, { historyOnly: screen !== '1' })
    c.header('Cache-Control', 'no-store')
    return c.text(text)
  })

  app.delete('/api/sessions/:session/windows/:index', async (c) => {
    const index = parseWindowIndex(c.req.param('index'))
    await allow(c, 'kill-window', c.req.param('session'))
    const { window } = await tmux.findWindow(c.req.param('session'), index)
    await tmux.killWindow(window)
    return c.body(null, 204)
  })

  app.all('/api/*', () => {
    throw new HandoffError('NOT_FOUND', 404, 'no such API route; see docs/protocol.md')
  })

  app.use(
    '/assets/*',
    serveStatic({
      root: deps.webRoot,
      onFound: (_path, c) => c.header('Cache-Control', 'public, max-age=31536000, immutable'),
    }),
  )
  app.all('/assets/*', () => {
    throw new HandoffError('NOT_FOUND', 404, 'no such asset')
  })
  app.use('*', serveStatic({ root: deps.webRoot, onFound: (_path, c) => c.header('Cache-Control', 'no-cache') }))

  // Any other page is the app itself, so deep links such as /t/main/0 load it.
  // A terminal's link gets the shell that also preloads xterm.js (terminal.html,
  // made by vite.config.ts), so a cold open fetches it beside the entry script.
  const shells = new Map<string, string>()
  const readShell = async (file: string): Promise<string | undefined> => {
    const html = shells.get(file) ?? (await readFile(join(deps.webRoot, file), 'utf8').catch(() => undefined))
    if (html !== undefined) shells.set(file, html)
    return html
  }
  app.get('*', async (c) => {
    const html = (c.req.path.startsWith('/t/') ? await readShell('terminal.html') : undefined) ?? (await readShell('index.html'))
    if (html === undefined) {
      throw new HandoffError('NOT_FOUND', 404, 'the web app is not built; run "npm run build"')
    }
    c.header('Cache-Control', 'no-cache')
    return c.html(html)
  })

  app.onError((err, c) => {
    if (err instanceof HandoffError) return c.json({ error: { code: err.code, message: err.message } }, err.status)
    deps.log(`internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? String(err)}`)
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500)
  })
  return app
}
