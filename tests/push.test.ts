import { execFile } from 'node:child_process'
import { createECDH, randomBytes, type ECDH } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authenticate } from '../server/auth/index.js'
import { createTerminalServer, type TerminalServer } from '../server/bridge/index.js'
import { HandoffError } from '../server/errors.js'
import {
  createPushRoutes,
  loadVapidKeys,
  readSubscriptions,
  startPushSender,
  type PushEvent,
  type PushSender,
  type VapidKeys,
} from '../server/events/push/index.js'
import { authorize } from '../server/access/index.js'
import type { AppEnv } from '../server/http/app.js'
import { Tmux, TmuxControl } from '../server/tmux/index.js'
import { addSignedInDevice, changeDevice, type TestDevice } from './support/device.js'
import { errorCode, request } from './support/server.js'
import { TermClient } from './support/term.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

// Web Push end to end, without the internet: a push endpoint on 127.0.0.1
// with a self-signed certificate stands in for the browser's push service.
// The test holds the subscription's private key and auth secret, so it
// decrypts each push (RFC 8291, aes128gcm) with http_ece, as a browser would.
// The routes are assembled here from the same pieces the server uses, with
// the test-only loopback allowance that production code never sets.

const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(body: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string }): Buffer
}
const POLL = { timeout: 10_000, interval: 50 }
const SEND_TIMEOUT_MS = 1_500

/** What the stand-in push service does with the next requests. */
type Mode = 'created' | 'gone' | 'error-then-created' | 'hang' | 'flood' | 'drip'

interface Received {
  path: string
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

let certDir: string
let cert: string
let pushService: HttpsServer
let pushPort: number
let mode: Mode
let received: Received[]
/** Responses the stand-in is still writing, ended after each test. */
let open: Set<import('node:http').ServerResponse>

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'handoff-push-cert-'))
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=handoff-test-push', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ])
  cert = await readFile(join(certDir, 'cert.pem'), 'utf8')
  const key = await readFile(join(certDir, 'key.pem'), 'utf8')
  pushService = createHttpsServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      open.add(res)
      res.on('close', () => open.delete(res))
      if (mode === 'created') res.writeHead(201).end()
      else if (mode === 'gone') res.writeHead(410).end('gone')
      else if (mode === 'error-then-created') res.writeHead(received.length === 1 ? 503 : 201, { 'retry-after': '0' }).end()
      else if (mode === 'flood') {
        res.writeHead(201)
        const chunk = Buffer.alloc(16 * 1024, 0x61)
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) {}
          if (!res.destroyed) res.once('drain', pump)
        }
        pump()
      } else if (mode === 'drip') {
        res.writeHead(201)
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('a')), 100)
      }
      // 'hang': never answer.
    })
  })
  await new Promise<void>((resolve) => pushService.listen(0, '127.0.0.1', resolve))
  pushPort = (pushService.address() as { port: number }).port
})

afterAll(async () => {
  pushService?.close()
  await rm(certDir, { recursive: true, force: true })
})

let tmux: PrivateTmux
let home: string
let removeHome: () => void
let vapid: VapidKeys
let sender: PushSender
let terminals: TerminalServer
let control: TmuxControl
let http: HttpServer
let port: number
let origin: string
let phone: TestDevice
let emit: ((e: PushEvent) => void) | undefined
/** A browser's subscription: the test keeps the private key and the auth secret. */
let browserKey: ECDH
let authSecret: string

beforeEach(async () => {
  mode = 'created'
  received = []
  open = new Set()
  tmux = new PrivateTmux()
  tmux.newSession('proj')
  tmux.run('new-window', '-d', '-t', 'proj')
  ;({ home, remove: removeHome } = tempHome())
  vapid = await loadVapidKeys(home)
  browserKey = createECDH('prime256v1')
  browserKey.generateKeys()
  authSecret = randomBytes(16).toString('base64url')

  const peer = { address: '127.0.0.1', node: null, user: null }
  const auth = () => ({ home, origin, secureCookie: false })
  control = new TmuxControl(tmux.socket)
  terminals = createTerminalServer({
    tmux: new Tmux(control),
    control,
    access: {
      guard: () => null,
      open: async (req, session) =>
        authorize(home, { device: await authenticate(auth(), req.headers.cookie), action: 'attach', session, peer, now: Date.now() }),
      recheck: async () => ({ ok: true, readOnly: false }),
    },
  })
  sender = startPushSender({
    home,
    vapid,
    subject: 'mailto:handoff@localhost',
    viewers: () => terminals.viewers(),
    subscribe: (listener) => {
      emit = listener
      return () => (emit = undefined)
    },
    allowLoopbackEndpointForTests: true,
    caForTests: cert,
    limits: { sendTimeoutMs: SEND_TIMEOUT_MS, maxAttempts: 2, retryBaseMs: 50 },
  })
  const app = new Hono<AppEnv>()
  app.use('/api/*', async (c, next) => {
    c.set('peer', peer)
    c.set('device', await authenticate(auth(), c.req.header('cookie')))
    await next()
  })
  app.route('/', createPushRoutes({ home, publicKey: vapid.publicKey, sender, now: Date.now, allowLoopbackEndpointForTests: true }))
  app.onError((err, c) =>
    err instanceof HandoffError ? c.json({ error: { code: err.code, message: err.message } }, err.status) : c.json({ error: { code: 'INTERNAL' } }, 500),
  )
  http = createHttpServer(getRequestListener(app.fetch))
  http.on('upgrade', (req, socket, head) => terminals.handleUpgrade(req, socket, head))
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  port = (http.address() as { port: number }).port
  origin = `http://localhost:${port}`
  phone = await addSignedInDevice(home, origin)
})

afterEach(async () => {
  for (const res of open) res.destroy()
  sender.stop()
  terminals.close()
  control.close()
  http.closeAllConnections()
  await new Promise((resolve) => http.close(resolve))
  tmux.kill()
  removeHome()
})

const endpoint = (id = 'abc') => `https://127.0.0.1:${pushPort}/push/${id}`

function api(method: string, path: string, body?: unknown, cookie: string | null = phone.cookie) {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  return request(port, path, {
    method,
    // Node sends a DELETE body unframed unless told its length.
    headers: { origin, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text ?? '')), ...(cookie ? { cookie } : {}) },
    ...(text === undefined ? {} : { body: text }),
  })
}

const subscription = (extra: Record<string, unknown> = {}) => ({
  endpoint: endpoint(),
  keys: { p256dh: browserKey.getPublicKey().toString('base64url'), auth: authSecret },
  ...extra,
})

async function subscribe(extra: Record<string, unknown> = {}): Promise<void> {
  const r = await api('POST', '/api/push/subscription', subscription(extra))
  expect(r.status).toBe(201)
}

const event = (extra: Partial<PushEvent> = {}): PushEvent => ({
  id: 41,
  ts: new Date().toISOString(),
  type: 'notify',
  title: 'Claude Code',
  message: 'Claude is waiting for your input',
  tmux_session: 'proj',
  tmux_window: 1,
  ...extra,
})

const decrypt = (body: Buffer) =>
  JSON.parse(ece.decrypt(body, { version: 'aes128gcm', privateKey: browserKey, authSecret }).toString('utf8')) as Record<string, unknown>

describe('push delivery', () => {
  it('serves the VAPID key to a signed-in device only', async () => {
    expect((await api('GET', '/api/push/key')).json).toEqual({ publicKey: vapid.publicKey })
    expect(errorCode(await api('GET', '/api/push/key', undefined, null))).toBe('NOT_SIGNED_IN')
  })

  it('sends an encrypted, padded push with TTL, Urgency and an opaque Topic', async () => {
    await subscribe()
    emit?.(event())
    await expect.poll(() => received.length, POLL).toBe(1)
    const push = received[0]!
    expect(push.path).toBe('/push/abc')
    expect(push.headers['content-encoding']).toBe('aes128gcm')
    expect(push.headers.ttl).toBe('3600')
    expect(push.headers.urgency).toBe('high')
    expect(push.headers.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/)
    expect(String(push.headers.topic)).not.toContain('proj')
    expect(String(push.headers.authorization)).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/)
    // 86-byte aes128gcm header + a 1024-byte bucket + delimiter + 16-byte tag: only the bucket shows.
    expect(push.body.length).toBe(86 + 1024 + 1 + 16)
    expect(push.body.toString('latin1')).not.toContain('Claude')
    expect(decrypt(push.body)).toEqual({
      id: 41,
      ts: expect.any(String),
      type: 'notify',
      title: 'Claude Code',
      body: 'Claude is waiting for your input',
      tag: 'tab:proj:1',
      url: '/t/proj/1',
    })
  })

  it('uses the type for events without a tab, and a shorter TTL for stop', async () => {
    await subscribe()
    await sender.deliver(event({ type: 'stop', tmux_session: undefined, tmux_window: undefined }))
    expect(received).toHaveLength(1)
    expect(received[0]!.headers.ttl).toBe('900')
    expect(received[0]!.headers.urgency).toBe('normal')
    expect(decrypt(received[0]!.body)).toMatchObject({ tag: 'type:stop', url: '/' })
  })

  it('sends the title only to a device with private notifications', async () => {
    await subscribe({ private: true })
    await sender.deliver(event())
    expect(decrypt(received[0]!.body)).toMatchObject({ title: 'Claude Code', body: '' })
  })

  it('deletes a subscription the push service calls gone (410)', async () => {
    await subscribe()
    mode = 'gone'
    const [delivery] = await sender.deliver(event())
    expect(delivery?.outcome.kind).toBe('gone')
    expect(await readSubscriptions(home)).toEqual([])
  })

  it('retries a 5xx and then delivers', async () => {
    await subscribe()
    mode = 'error-then-created'
    const [delivery] = await sender.deliver(event())
    expect(delivery?.outcome).toEqual({ kind: 'sent', status: 201 })
    expect(received).toHaveLength(2)
  })

  it('sends nothing for a session outside the device grant, and drops a revoked device’s subscription', async () => {
    await subscribe()
    await changeDevice(home, phone.record.id, () => ({ sessions: 'other-*' }))
    expect(await sender.deliver(event())).toEqual([])
    // An event without a tab still reaches it.
    expect(await sender.deliver(event({ tmux_session: undefined, tmux_window: undefined }))).toHaveLength(1)
    await changeDevice(home, phone.record.id, () => ({ status: 'revoked' }))
    expect(await sender.deliver(event())).toEqual([])
    expect(await readSubscriptions(home)).toEqual([])
    expect(received).toHaveLength(1)
  })

  it('unsubscribes with DELETE', async () => {
    await subscribe()
    expect((await api('DELETE', '/api/push/subscription', { endpoint: endpoint() })).status).toBe(204)
    expect(await sender.deliver(event())).toEqual([])
  })

  it('sends the choices of an event, with the answer marker, only to a device that may type', async () => {
    await subscribe()
    const asking = event({ tmux_pane: '%3', choices: [{ label: 'Yes', keys: '1' }, { label: 'No', keys: '<Esc>' }] })
    await sender.deliver(asking)
    expect(decrypt(received[0]!.body)).toMatchObject({ url: '/t/proj/1?answer=41', choices: ['Yes', 'No'] })
    // Keys stay on the server: the push carries labels only.
    expect(JSON.stringify(decrypt(received[0]!.body))).not.toContain('<Esc>')
    await changeDevice(home, phone.record.id, () => ({ readOnly: true }))
    await sender.deliver(asking)
    const readOnly = decrypt(received[1]!.body)
    expect(readOnly).toMatchObject({ url: '/t/proj/1' })
    expect(readOnly).not.toHaveProperty('choices')
  })

  it('sends a test notification to this device', async () => {
    expect(errorCode(await api('POST', '/api/push/test', {}))).toBe('PUSH_NOT_SUBSCRIBED')
    await subscribe()
    expect(await api('POST', '/api/push/test', {})).toMatchObject({ status: 200, json: { sent: 1 } })
    expect(decrypt(received[0]!.body)).toMatchObject({ type: 'test', tag: 'type:test', url: '/' })
  })
})

describe('suppression', () => {
  it('holds while the device shows the tab, and stops when the page is hidden', async () => {
    await subscribe()
    const term = await TermClient.open(port, '/api/term/proj/1', { cookie: phone.cookie, origin })
    try {
      term.control({ type: 'visibility', visible: true })
      await expect.poll(() => terminals.viewers(), POLL).toEqual([{ deviceId: phone.record.id, session: 'proj', window: 1, visible: true }])
      expect((await sender.deliver(event()))[0]?.outcome.kind).toBe('suppressed')
      // Another window of the same session is not the tab being looked at.
      expect((await sender.deliver(event({ tmux_window: 0 })))[0]?.outcome.kind).toBe('sent')
      term.control({ type: 'visibility', visible: false })
      await expect.poll(() => terminals.viewers()[0]?.visible, POLL).toBe(false)
      expect((await sender.deliver(event()))[0]?.outcome.kind).toBe('sent')
      expect(received.map((r) => decrypt(r.body).tag)).toEqual(['tab:proj:0', 'tab:proj:1'])
    } finally {
      await term.close()
    }
  })

  it('does not suppress for another device looking at the tab', async () => {
    await subscribe()
    const other = await addSignedInDevice(home, origin, { name: 'tablet' })
    const term = await TermClient.open(port, '/api/term/proj/1', { cookie: other.cookie, origin })
    try {
      await expect.poll(() => terminals.viewers().length, POLL).toBe(1)
      expect((await sender.deliver(event()))[0]?.outcome.kind).toBe('sent')
    } finally {
      await term.close()
    }
  })
})

describe('caps', () => {
  it.each([
    ['never answers', 'hang'],
    ['drips its answer forever', 'drip'],
  ] as const)('an endpoint that %s is given up at the deadline, tried a bounded number of times', async (_what, m) => {
    await subscribe()
    mode = m
    const started = Date.now()
    const [delivery] = await sender.deliver(event())
    const took = Date.now() - started
    expect(delivery?.outcome.kind).toBe('retry')
    expect(received).toHaveLength(2) // maxAttempts
    expect(took).toBeLessThan(2 * SEND_TIMEOUT_MS + 1_000)
    expect(took).toBeGreaterThanOrEqual(2 * SEND_TIMEOUT_MS)
    // The test route tries once and answers within the cap.
    const t0 = Date.now()
    expect(errorCode(await api('POST', '/api/push/test', {}))).toBe('PUSH_FAILED')
    expect(Date.now() - t0).toBeLessThan(SEND_TIMEOUT_MS + 1_000)
  })

  it('an endpoint that streams a huge answer is cut off at the response cap', async () => {
    await subscribe()
    mode = 'flood'
    const started = Date.now()
    const [delivery] = await sender.deliver(event())
    expect(Date.now() - started).toBeLessThan(SEND_TIMEOUT_MS)
    expect(delivery?.outcome).toEqual({ kind: 'sent', status: 201 })
  })
})

describe('refused subscriptions', () => {
  const keys = () => subscription().keys
  it.each([
    ['an http endpoint', () => ({ ...subscription(), endpoint: `http://127.0.0.1:${pushPort}/push` })],
    ['an unknown host', () => ({ ...subscription(), endpoint: 'https://push.example.com/x' })],
    ['a private address', () => ({ ...subscription(), endpoint: 'https://10.0.0.1/x' })],
    ['a tailnet address', () => ({ ...subscription(), endpoint: 'https://100.100.1.1/x' })],
    ['userinfo', () => ({ ...subscription(), endpoint: `https://u:p@127.0.0.1:${pushPort}/push` })],
    ['a short p256dh', () => ({ ...subscription(), keys: { ...keys(), p256dh: keys().p256dh.slice(0, 60) } })],
    ['a long auth', () => ({ ...subscription(), keys: { ...keys(), auth: randomBytes(17).toString('base64url') } })],
    ['an unknown field', () => ({ ...subscription(), extra: 1 })],
    ['no keys', () => ({ endpoint: endpoint() })],
  ])('refuses %s with BAD_SUBSCRIPTION', async (_what, body) => {
    const r = await api('POST', '/api/push/subscription', body())
    expect(r.status).toBe(400)
    expect(errorCode(r)).toBe('BAD_SUBSCRIPTION')
    expect(await readSubscriptions(home)).toEqual([])
  })

  it('refuses a body over the limit with BODY_TOO_LARGE', async () => {
    const r = await api('POST', '/api/push/subscription', { ...subscription(), pad: 'x'.repeat(5_000) })
    expect(r.status).toBe(413)
    expect(errorCode(r)).toBe('BODY_TOO_LARGE')
  })

  it('refuses a device that is not signed in', async () => {
    expect(errorCode(await api('POST', '/api/push/subscription', subscription(), null))).toBe('NOT_SIGNED_IN')
  })
})
