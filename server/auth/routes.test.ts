import { createHash, generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HandoffError } from '../errors.js'
import { EXPIRY_GRACE_MS } from '../gate/index.js'
import { newDeviceId, readAudit, readDevices, updateDevices, type DeviceRecord } from '../store/index.js'
import { SoftAuthenticator } from './fixtures/authenticator.js'
import { UNNAMED_DEVICE } from './device-name.js'
import { hashPairingSecret, newPairingSecret, pairingCode } from './pairing.js'
import { AUTH_LIMITS } from './limits.js'
import { authenticate, createAuthRoutes } from './routes.js'
import { pairMessage, signInMessage } from './device-key.js'

const origin = 'http://localhost:8080'
const rpID = 'localhost'
const PIXEL = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36'

let home: string
let t: number
const now = () => t

beforeEach(() => {
  home = join(mkdtempSync(join(tmpdir(), 'handoff-auth-')), 'home')
  t = 1_800_000_000_000
})
afterEach(() => rmSync(join(home, '..'), { recursive: true, force: true }))

/** The routes in a Hono app with the same onError as server/http/app.ts. */
function makeApp(secureCookie = false) {
  const app = new Hono()
  // Each request gets its own peer unless a test names one, so only the rate-limit tests meet the limit.
  app.route('/', createAuthRoutes({ home, rpID, origin, secureCookie, now, peerKey: (c) => c.req.header('x-test-peer') ?? randomUUID() }))
  app.onError((err, c) =>
    err instanceof HandoffError
      ? c.json({ error: { code: err.code, message: err.message } }, err.status)
      : c.json({ error: { code: 'INTERNAL', message: String(err) } }, 500),
  )
  return app
}

type App = ReturnType<typeof makeApp>
const post = (app: App, path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': PIXEL, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
const json = async (res: Response): Promise<any> => res.json()
const errorCode = async (res: Response): Promise<string> => ((await res.json()) as { error: { code: string } }).error.code

async function addPending(overrides: Partial<DeviceRecord> = {}) {
  const secret = newPairingSecret()
  const id = newDeviceId()
  await updateDevices(home, (ds) => [
    ...ds,
    {
      id,
      name: UNNAMED_DEVICE,
      status: 'pending',
      sessions: 'work-*',
      readOnly: true,
      createdAt: t,
      expiresAt: t + 30 * 86_400_000,
      lastSeenAt: null,
      renewalRequestedAt: null,
      credential: null,
      tailnetUser: null,
      tailnetNode: null,
      generation: 0,
      suspect: false,
      nameFromUser: false,
      pairing: { secretHash: hashPairingSecret(secret), expiresAt: t + 5 * 60_000, state: 'waiting', challenge: null },
      ...overrides,
    },
  ])
  return { secret, id }
}

const deviceById = async (id: string) => (await readDevices(home)).find((d) => d.id === id)

/** Pairs `auth` through the routes: options, passkey, verify. Returns the code. */
async function register(app: App, secret: string, auth: SoftAuthenticator, body: Record<string, unknown> = {}) {
  const options = await json(await post(app, '/api/pair/options', { secret }))
  return post(app, '/api/pair/verify', { secret, response: auth.register(options), ...body })
}

/** What `handoff pair` does once the right code is typed. */
const confirm = (id: string) =>
  updateDevices(home, (ds) =>
    ds.map((d) => (d.id === id && d.pairing ? { ...d, status: 'active', generation: d.generation + 1, pairing: { ...d.pairing, state: 'confirmed' } } : d)),
  )

async function pairedDevice(app: App, counting = false) {
  const { secret, id } = await addPending()
  const auth = new SoftAuthenticator(rpID, origin, counting)
  expect((await register(app, secret, auth)).status).toBe(200)
  await confirm(id)
  return { auth, id, secret }
}

async function signIn(app: App, auth: SoftAuthenticator, tweak: Parameters<SoftAuthenticator['assert']>[1] = {}) {
  const options = await json(await post(app, '/api/auth/options', {}))
  return post(app, '/api/auth/verify', { response: auth.assert(options, tweak) })
}

describe('request bodies', () => {
  it('answers malformed JSON and wrong shapes with 400 BAD_REQUEST and says what is wrong', async () => {
    const app = makeApp()
    const { secret } = await addPending()
    const cases: Array<[string, unknown]> = [
      ['/api/pair/info', '{"secret":'],
      ['/api/pair/info', {}],
      ['/api/pair/info', { secret: 42 }],
      ['/api/pair/info', { secret: 'too-short' }],
      ['/api/pair/info', { secret, extra: true }],
      ['/api/pair/info', [secret]],
      ['/api/pair/options', 'null'],
      ['/api/pair/verify', { secret }],
      ['/api/pair/verify', { secret, response: {} }],
      ['/api/pair/verify', { secret, response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'not base64!', attestationObject: 'AA' } } }],
      ['/api/pair/verify', { secret, response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'bm90IGpzb24', attestationObject: 'AA' } } }],
      ['/api/pair/verify', { secret, deviceName: 7, response: {} }],
      ['/api/pair/status', 'garbage'],
      ['/api/auth/options', { unexpected: 1 }],
      ['/api/auth/verify', {}],
      ['/api/auth/verify', { response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA' } } }],
      ['/api/auth/verify', { response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' } } }],
    ]
    for (const [path, body] of cases) {
      const res = await post(app, path, body)
      const payload = await json(res)
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400)
      expect(payload.error.code).toBe('BAD_REQUEST')
      expect(payload.error.message).toMatch(/request body/)
    }
    expect((await deviceById((await readDevices(home))[0]?.id ?? ''))?.pairing?.state).toBe('waiting')
  })

  it('refuses a body over 16 KiB with 413', async () => {
    const res = await post(makeApp(), '/api/pair/info', { secret: 'x'.repeat(17 * 1024) })
    expect(res.status).toBe(413)
    expect(await errorCode(res)).toBe('BODY_TOO_LARGE')
  })
})

describe('pairing', () => {
  it('shows the grant of a live link', async () => {
    const { secret } = await addPending()
    const res = await post(makeApp(), '/api/pair/info', { secret })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await json(res)).toEqual({ name: UNNAMED_DEVICE, sessions: 'work-*', readOnly: true, expiresAt: t + 30 * 86_400_000 })
  })

  it('answers an unknown, expired or burned secret with 404 PAIRING_INVALID on every endpoint', async () => {
    const app = makeApp()
    const expired = await addPending({})
    const burned = await addPending()
    await updateDevices(home, (ds) => ds.map((d) => (d.id === burned.id && d.pairing ? { ...d, pairing: { ...d.pairing, state: 'burned' } } : d)))
    t += 5 * 60_000 - 1
    const live = await addPending()
    t += 1 // `expired` is now exactly at its expiry
    for (const secret of [newPairingSecret(), expired.secret, burned.secret]) {
      for (const path of ['/api/pair/info', '/api/pair/options']) {
        const res = await post(app, path, { secret })
        expect(res.status, path).toBe(404)
        expect(await errorCode(res)).toBe('PAIRING_INVALID')
      }
    }
    const unknownStatus = await post(app, '/api/pair/status', { secret: newPairingSecret() })
    expect(unknownStatus.status).toBe(404)
    expect(await errorCode(unknownStatus)).toBe('PAIRING_INVALID')
    expect((await post(app, '/api/pair/status', { secret: expired.secret })).status).toBe(404)
    expect(await json(await post(app, '/api/pair/status', { secret: burned.secret }))).toEqual({ state: 'burned' })
    expect((await post(app, '/api/pair/info', { secret: live.secret })).status).toBe(200)
  })

  it('registers a passkey, stores it as "registered" and returns the code the CLI can recompute', async () => {
    const app = makeApp()
    const { secret, id } = await addPending()
    const optionsRes = await post(app, '/api/pair/options', { secret })
    expect(optionsRes.status).toBe(200)
    const options = await json(optionsRes)
    expect(options).toMatchObject({
      rp: { name: 'Handoff', id: rpID },
      user: { id: Buffer.from(id).toString('base64url'), name: UNNAMED_DEVICE },
      attestation: 'none',
      excludeCredentials: [],
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    })
    expect(options.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toEqual([-7, -257])
    expect((await deviceById(id))?.pairing?.challenge).toBe(options.challenge)

    const auth = new SoftAuthenticator(rpID, origin)
    const res = await post(app, '/api/pair/verify', { secret, response: auth.register(options) })
    expect(res.status).toBe(200)
    const { code } = await json(res)
    const d = await deviceById(id)
    expect(d).toMatchObject({ status: 'pending', name: 'Pixel 8 · Chrome', generation: 1, suspect: false })
    expect(d?.pairing).toMatchObject({ state: 'registered', challenge: null })
    expect(d?.credential).toMatchObject({ id: auth.id, counter: 0, transports: ['internal'] })
    expect(code).toMatch(/^\d{6}$/)
    expect(code).toBe(pairingCode(secret, d?.credential?.id ?? '', d?.credential?.publicKey ?? ''))
    expect(await json(await post(app, '/api/pair/status', { secret }))).toEqual({ state: 'registered' })
    await confirm(id)
    expect(await json(await post(app, '/api/pair/status', { secret }))).toEqual({ state: 'confirmed' })
    t += 60 * 60_000 // a slow phone still learns how it ended
    expect(await json(await post(app, '/api/pair/status', { secret }))).toEqual({ state: 'confirmed' })
  })

  it('keeps a name set with --name, else takes the phone’s suggestion', async () => {
    const app = makeApp()
    const named = await addPending({ name: 'work phone', nameFromUser: true })
    expect((await register(app, named.secret, new SoftAuthenticator(rpID, origin), { deviceName: 'ignored' })).status).toBe(200)
    expect((await deviceById(named.id))?.name).toBe('work phone')
    const unnamed = await addPending()
    expect((await register(app, unnamed.secret, new SoftAuthenticator(rpID, origin), { deviceName: ' Ana\u0007’s phone\n' })).status).toBe(200)
    expect((await deviceById(unnamed.id))?.name).toBe('Ana’s phone')
  })

  it('burns the pairing on a second options or verify after registration, and registers nothing more', async () => {
    const app = makeApp()
    for (const second of ['options', 'verify'] as const) {
      const { secret, id } = await addPending()
      const first = new SoftAuthenticator(rpID, origin)
      const attacker = new SoftAuthenticator(rpID, origin)
      // The attacker's options come first: both phones hold a challenge when the first one registers.
      const spare = await json(await post(app, '/api/pair/options', { secret }))
      expect((await register(app, secret, first)).status).toBe(200)
      const res =
        second === 'options'
          ? await post(app, '/api/pair/options', { secret })
          : await post(app, '/api/pair/verify', { secret, response: attacker.register(spare) })
      expect(res.status).toBe(404)
      expect(await errorCode(res)).toBe('PAIRING_INVALID')
      const d = await deviceById(id)
      expect(d?.pairing?.state).toBe('burned')
      expect(d?.status).toBe('pending')
      expect(d?.credential?.id).toBe(first.id)
      expect(await json(await post(app, '/api/pair/status', { secret }))).toEqual({ state: 'burned' })
      // And it stays burned: a confirmation by the CLI finds nothing to confirm.
      expect((await post(app, '/api/pair/options', { secret })).status).toBe(404)
    }
  })

  it('refuses a failed attempt with PAIRING_FAILED, spends its challenge, and leaves the link waiting', async () => {
    const app = makeApp()
    const { secret, id } = await addPending()
    const auth = new SoftAuthenticator(rpID, origin)
    const tweaks: Array<Parameters<SoftAuthenticator['register']>[1]> = [
      { origin: 'http://evil.example' },
      { crossOrigin: true },
      { userVerified: false },
      { type: 'webauthn.get' },
    ]
    for (const tweak of tweaks) {
      const options = await json(await post(app, '/api/pair/options', { secret }))
      const res = await post(app, '/api/pair/verify', { secret, response: auth.register(options, tweak) })
      expect(res.status, JSON.stringify(tweak)).toBe(400)
      expect(await errorCode(res)).toBe('PAIRING_FAILED')
      expect((await deviceById(id))?.pairing).toMatchObject({ state: 'waiting', challenge: null })
      expect((await deviceById(id))?.credential).toBeNull()
    }
    // A challenge this pairing never issued, and one replaced by newer options.
    await post(app, '/api/pair/options', { secret })
    const made = await post(app, '/api/pair/verify', { secret, response: auth.register({ ...(await json(await post(app, '/api/pair/options', { secret }))), challenge: 'bm90LXRoZS1jaGFsbGVuZ2U' }) })
    expect(await errorCode(made)).toBe('PAIRING_FAILED')
    const older = await json(await post(app, '/api/pair/options', { secret }))
    await post(app, '/api/pair/options', { secret })
    expect(await errorCode(await post(app, '/api/pair/verify', { secret, response: auth.register(older) }))).toBe('PAIRING_FAILED')

    // Submitted twice at once: one registers; the other finds the challenge spent (400) or the link registered, which burns it (404).
    const good = auth.register(await json(await post(app, '/api/pair/options', { secret })))
    const [a, b] = await Promise.all([post(app, '/api/pair/verify', { secret, response: good }), post(app, '/api/pair/verify', { secret, response: good })])
    const statuses = [a.status, b.status].sort()
    expect(statuses[0]).toBe(200)
    expect([400, 404]).toContain(statuses[1])
    expect((await deviceById(id))?.pairing?.state).toBe(statuses[1] === 400 ? 'registered' : 'burned')
    // Replayed later, it always burns the link.
    expect((await post(app, '/api/pair/verify', { secret, response: good })).status).toBe(404)
    expect((await deviceById(id))?.pairing?.state).toBe('burned')
  })

  it('refuses a registration challenge older than 60 s', async () => {
    const app = makeApp()
    const { secret } = await addPending()
    const options = await json(await post(app, '/api/pair/options', { secret }))
    t += 60_000
    const res = await post(app, '/api/pair/verify', { secret, response: new SoftAuthenticator(rpID, origin).register(options) })
    expect(res.status).toBe(400)
    expect(await errorCode(res)).toBe('PAIRING_FAILED')
  })
})

describe('sign-in', () => {
  it('offers a discoverable sign-in with user verification required', async () => {
    const options = await json(await post(makeApp(), '/api/auth/options', {}))
    expect(options).toMatchObject({ rpId: rpID, userVerification: 'required' })
    expect(options.allowCredentials ?? []).toEqual([])
    expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{20,}$/)
  })

  it('signs in a paired device, sets the loopback cookie, and authenticate() finds the device', async () => {
    const app = makeApp()
    const { auth, id } = await pairedDevice(app)
    const res = await signIn(app, auth)
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({ device: { id, name: 'Pixel 8 · Chrome', sessions: 'work-*', readOnly: true, expiresAt: t + 30 * 86_400_000 } })
    const setCookie = res.headers.get('set-cookie') ?? ''
    expect(setCookie).toMatch(/^handoff=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/)
    expect(setCookie).not.toMatch(/Secure/)
    const cookie = setCookie.split(';')[0] ?? ''
    const deps = { home, origin, secureCookie: false, now }
    expect((await authenticate(deps, `theme=dark; ${cookie}`))?.id).toBe(id)
    expect((await deviceById(id))?.lastSeenAt).toBe(t)
    expect(await authenticate(deps, undefined)).toBeNull()
    expect(await authenticate({ ...deps, origin: 'http://localhost:9999' }, cookie)).toBeNull()
    expect(await authenticate({ ...deps, secureCookie: true }, cookie)).toBeNull() // HTTPS mode reads only __Host-handoff
    t += 12 * 3_600_000
    expect(await authenticate(deps, cookie)).toBeNull()
  })

  it('uses __Host-handoff with Secure over HTTPS', async () => {
    const app = makeApp(true)
    const { auth, id } = await pairedDevice(app)
    const res = await signIn(app, auth)
    const setCookie = res.headers.get('set-cookie') ?? ''
    expect(setCookie).toMatch(/^__Host-handoff=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Strict$/)
    const token = setCookie.split(';')[0]?.split('=')[1] ?? ''
    const deps = { home, origin, secureCookie: true, now }
    expect((await authenticate(deps, `__Host-handoff=${token}`))?.id).toBe(id)
    expect(await authenticate(deps, `handoff=${token}`)).toBeNull()
    const out = await post(app, '/api/auth/logout', {})
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toBe('__Host-handoff=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict')
  })

  it('clears the loopback cookie on logout', async () => {
    const out = await post(makeApp(), '/api/auth/logout', {})
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toBe('handoff=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict')
  })

  it('voids tokens when the device changes (generation), is revoked, or goes missing', async () => {
    const app = makeApp()
    const { auth, id } = await pairedDevice(app)
    const cookie = (await signIn(app, auth)).headers.get('set-cookie')?.split(';')[0]
    const deps = { home, origin, secureCookie: false, now }
    expect(await authenticate(deps, cookie)).not.toBeNull()
    await updateDevices(home, (ds) => ds.map((d) => (d.id === id ? { ...d, sessions: 'main', generation: d.generation + 1 } : d)))
    expect(await authenticate(deps, cookie)).toBeNull()
    const fresh = (await signIn(app, auth)).headers.get('set-cookie')?.split(';')[0]
    expect(await authenticate(deps, fresh)).not.toBeNull()
    await updateDevices(home, (ds) => ds.map((d) => (d.id === id ? { ...d, status: 'revoked' } : d)))
    expect(await authenticate(deps, fresh)).toBeNull()
    await updateDevices(home, () => [])
    expect(await authenticate(deps, fresh)).toBeNull()
  })

  it('refuses a replayed assertion, a stale or unknown challenge, and parallel submissions but one', async () => {
    const app = makeApp()
    const { auth } = await pairedDevice(app)
    const options = await json(await post(app, '/api/auth/options', {}))
    const response = auth.assert(options)
    expect((await post(app, '/api/auth/verify', { response })).status).toBe(200)
    const replay = await post(app, '/api/auth/verify', { response })
    expect(replay.status).toBe(401)
    expect(await errorCode(replay)).toBe('SIGN_IN_FAILED')

    expect((await post(app, '/api/auth/verify', { response: auth.assert({ challenge: 'bWFkZS11cC1jaGFsbGVuZ2U' }) })).status).toBe(401)

    const stale = await json(await post(app, '/api/auth/options', {}))
    t += 60_000
    const late = await post(app, '/api/auth/verify', { response: auth.assert(stale) })
    expect(late.status).toBe(401)
    expect((await json(late)).error.message).toMatch(/challenge/)

    const once = auth.assert(await json(await post(app, '/api/auth/options', {})))
    const results = await Promise.all(Array.from({ length: 4 }, () => post(app, '/api/auth/verify', { response: once })))
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401])
  })

  it('refuses an unknown passkey, and a pending or revoked device the same way', async () => {
    const app = makeApp()
    const stranger = new SoftAuthenticator(rpID, origin)
    stranger.userHandle = Buffer.from(newDeviceId()).toString('base64url')
    const unknown = await signIn(app, stranger)
    expect(unknown.status).toBe(401)
    const unknownMessage = (await json(unknown)).error.message

    const { secret } = await addPending()
    const pendingAuth = new SoftAuthenticator(rpID, origin)
    await register(app, secret, pendingAuth) // registered, code never typed
    const pending = await signIn(app, pendingAuth)
    expect(pending.status).toBe(401)
    expect((await json(pending)).error.message).toBe(unknownMessage)

    const { auth, id } = await pairedDevice(app)
    await updateDevices(home, (ds) => ds.map((d) => (d.id === id ? { ...d, status: 'revoked' } : d)))
    const revoked = await signIn(app, auth)
    expect(revoked.status).toBe(401)
    expect((await json(revoked)).error.message).toBe(unknownMessage)
  })

  it('refuses a wrong or missing user handle, crossOrigin, another origin, and no user verification', async () => {
    const app = makeApp()
    const { auth } = await pairedDevice(app)
    const cases: Array<Parameters<SoftAuthenticator['assert']>[1]> = [
      { userHandle: Buffer.from(newDeviceId()).toString('base64url') },
      { userHandle: null },
      { crossOrigin: true },
      { origin: 'http://localhost:8081' },
      { userVerified: false },
      { type: 'webauthn.create' },
    ]
    for (const tweak of cases) {
      const res = await signIn(app, auth, tweak)
      expect(res.status, JSON.stringify(tweak)).toBe(401)
      expect(await errorCode(res)).toBe('SIGN_IN_FAILED')
    }
    expect((await signIn(app, auth)).status).toBe(200) // the control
  })

  it('refuses a forged signature without marking the device suspect', async () => {
    const app = makeApp()
    const { auth, id } = await pairedDevice(app, true)
    expect((await signIn(app, auth)).status).toBe(200)
    const forger = new SoftAuthenticator(rpID, origin)
    auth.counter = 0 // a regression, but unsigned
    const res = await signIn(app, auth, { signWith: forger.keys.privateKey })
    expect(res.status).toBe(401)
    expect((await deviceById(id))?.suspect).toBe(false)
  })

  it('marks the device suspect on a counter regression, voids its tokens and refuses it from then on', async () => {
    const app = makeApp()
    const { auth, id } = await pairedDevice(app, true)
    const first = await signIn(app, auth) // counter 1
    expect(first.status).toBe(200)
    expect((await deviceById(id))?.credential?.counter).toBe(1)
    const cookie = first.headers.get('set-cookie')?.split(';')[0]
    expect((await signIn(app, auth)).status).toBe(200) // counter 2
    const generation = (await deviceById(id))?.generation ?? -1
    auth.counter = 2 // a clone replays the same count
    const cloned = await signIn(app, auth)
    expect(cloned.status).toBe(401)
    expect(await errorCode(cloned)).toBe('SIGN_IN_FAILED')
    expect(await deviceById(id)).toMatchObject({ suspect: true, generation: generation + 1 })
    expect(await authenticate({ home, origin, secureCookie: false, now }, cookie)).toBeNull()
    auth.counter = 100
    expect((await signIn(app, auth)).status).toBe(401)
  })

  it('accepts a synced passkey whose counter stays 0', async () => {
    const app = makeApp()
    const { auth, id } = await pairedDevice(app)
    for (let i = 0; i < 3; i++) expect((await signIn(app, auth)).status).toBe(200)
    expect((await deviceById(id))?.suspect).toBe(false)
  })

  it('lets a soft-expired device sign in (to ask for renewal), not a hard-expired one', async () => {
    const app = makeApp()
    const { auth, id } = await pairedDevice(app)
    await updateDevices(home, (ds) => ds.map((d) => (d.id === id ? { ...d, expiresAt: t - 1 } : d)))
    expect((await signIn(app, auth)).status).toBe(200)
    await updateDevices(home, (ds) => ds.map((d) => (d.id === id ? { ...d, expiresAt: t - EXPIRY_GRACE_MS } : d)))
    const res = await signIn(app, auth)
    expect(res.status).toBe(401)
    expect((await json(res)).error.message).toMatch(/renew/)
  })
})

describe('rate limits', () => {
  it('allows 10 pairing or sign-in requests from one address back to back, then 429 with Retry-After', async () => {
    const app = makeApp()
    const peer = { 'x-test-peer': '100.64.0.7' }
    for (let i = 0; i < AUTH_LIMITS.rateBurst; i++) expect((await post(app, '/api/auth/options', {}, peer)).status).toBe(200)
    const res = await post(app, '/api/pair/info', { secret: newPairingSecret() }, peer)
    expect(res.status).toBe(429)
    expect(await errorCode(res)).toBe('RATE_LIMITED')
    expect(res.headers.get('retry-after')).toBe('6')
    expect((await post(app, '/api/auth/options', {}, { 'x-test-peer': '100.64.0.8' })).status).toBe(200)
    expect((await post(app, '/api/auth/logout', {}, peer)).status).toBe(204) // logging out is never limited
  })

  it('gives status polling a looser bucket of its own', async () => {
    const app = makeApp()
    const { secret } = await addPending()
    const peer = { 'x-test-peer': '100.64.0.9' }
    for (let i = 0; i < 10; i++) expect((await post(app, '/api/pair/status', { secret }, peer)).status).toBe(200)
    expect((await post(app, '/api/pair/status', { secret }, peer)).status).toBe(429)
    t += 500
    expect((await post(app, '/api/pair/status', { secret }, peer)).status).toBe(200)
  })
})

/**
 * A native shell's device key, in software: an ECDSA P-256 key pair standing
 * in for the hardware one, signing what the shell's plugin signs
 * (server/auth/device-key.ts), in either encoding the platforms give.
 */
class SoftDeviceKey {
  private readonly pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  counter = 0
  constructor(private readonly format: 'p1363' | 'der' = 'p1363') {}
  get publicKey(): string {
    return this.pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64url')
  }
  get keyId(): string {
    return createHash('sha256').update(this.pair.publicKey.export({ type: 'spki', format: 'der' })).digest('base64url')
  }
  sign(message: string): string {
    return cryptoSign('sha256', Buffer.from(message), { key: this.pair.privateKey, dsaEncoding: this.format === 'p1363' ? 'ieee-p1363' : 'der' }).toString('base64url')
  }
  pairing(challenge: string, at = origin) {
    return { publicKey: this.publicKey, challenge, signature: this.sign(pairMessage(at, challenge)), signatureFormat: this.format }
  }
  signIn(challenge: string, counter = ++this.counter, at = origin) {
    return { keyId: this.keyId, challenge, counter, signature: this.sign(signInMessage(at, challenge, counter)), signatureFormat: this.format }
  }
}

describe('the native shells\' device key', () => {
  async function pairKey(app: App, key: SoftDeviceKey, body: Record<string, unknown> = {}) {
    const { secret, id } = await addPending()
    const { challenge, origin: signedFor } = await json(await post(app, '/api/pair/device-key/options', { secret }))
    expect(signedFor).toBe(origin)
    const res = await post(app, '/api/pair/device-key/verify', { secret, key: key.pairing(challenge), ...body })
    return { res, secret, id }
  }
  async function keySignIn(app: App, key: SoftDeviceKey, counter?: number) {
    const { challenge } = await json(await post(app, '/api/auth/device-key/options', {}))
    return post(app, '/api/auth/device-key/verify', key.signIn(challenge, counter))
  }
  const auditLines = async () => (await readAudit(home)).entries

  it('pairs only through the link and the code, then signs in with either signature encoding', async () => {
    for (const format of ['p1363', 'der'] as const) {
      const app = makeApp()
      const key = new SoftDeviceKey(format)
      const { res, secret, id } = await pairKey(app, key)
      expect(res.status).toBe(200)
      const { code } = await json(res)
      const d = await deviceById(id)
      expect(d).toMatchObject({ status: 'pending', credential: { kind: 'device-key', id: key.keyId, publicKey: key.publicKey, counter: 0 }, pairing: { state: 'registered' } })
      expect(code).toBe(pairingCode(secret, key.keyId, key.publicKey))
      // Not before the code is typed on the machine.
      expect(await errorCode(await keySignIn(app, key))).toBe('SIGN_IN_FAILED')
      await confirm(id)
      const signedIn = await keySignIn(app, key)
      expect(signedIn.status).toBe(200)
      expect(signedIn.headers.get('set-cookie')).toMatch(/^handoff=[^;]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/)
      expect(await authenticate({ home, origin, secureCookie: false, now }, signedIn.headers.get('set-cookie')!.split(';')[0])).toMatchObject({ id })
      expect((await deviceById(id))?.credential?.counter).toBe(key.counter)
    }
  })

  it('refuses a pairing signed for another computer, another challenge or with another key, and a key that is not P-256', async () => {
    const app = makeApp()
    const key = new SoftDeviceKey()
    const { secret } = await addPending()
    const attempt = async (make: (challenge: string) => Record<string, unknown>) => {
      const { challenge } = await json(await post(app, '/api/pair/device-key/options', { secret }))
      const res = await post(app, '/api/pair/device-key/verify', { secret, key: make(challenge) })
      return [res.status, (await json(res)).error?.code]
    }
    expect(await attempt((c) => key.pairing(c, 'https://other.tailnet.test:7438'))).toEqual([400, 'PAIRING_FAILED'])
    expect(await attempt((c) => ({ ...key.pairing(c), challenge: 'A'.repeat(43) }))).toEqual([400, 'PAIRING_FAILED'])
    expect(await attempt((c) => ({ ...key.pairing(c), publicKey: new SoftDeviceKey().publicKey }))).toEqual([400, 'PAIRING_FAILED'])
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64url')
    expect(await attempt((c) => ({ ...key.pairing(c), publicKey: rsa }))).toEqual([400, 'BAD_REQUEST']) // longer than any P-256 key
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64url')
    expect(await attempt((c) => ({ ...key.pairing(c), publicKey: p384 }))).toEqual([400, 'PAIRING_FAILED'])
    expect(await attempt((c) => ({ ...key.pairing(c), signatureFormat: 'der' }))).toEqual([400, 'PAIRING_FAILED'])
    expect(await attempt((c) => ({ ...key.pairing(c), signatureFormat: 'raw' }))).toEqual([400, 'BAD_REQUEST'])
    // Each failure took its challenge; the link still waits, and a good attempt pairs.
    expect(await attempt((c) => key.pairing(c))).toEqual([200, undefined])
  })

  it('refuses replayed, foreign and passkey-shaped sign-ins, audits each, and blocks a key whose count goes back', async () => {
    const app = makeApp()
    const key = new SoftDeviceKey()
    const { id } = await pairKey(app, key)
    await confirm(id)
    expect((await keySignIn(app, key)).status).toBe(200)

    // A replay of a whole signed sign-in: its challenge is used.
    const { challenge } = await json(await post(app, '/api/auth/device-key/options', {}))
    const once = key.signIn(challenge)
    expect((await post(app, '/api/auth/device-key/verify', once)).status).toBe(200)
    expect(await errorCode(await post(app, '/api/auth/device-key/verify', once))).toBe('SIGN_IN_FAILED')
    // Signed for another computer, or by another key claiming this one's id.
    const other = await json(await post(app, '/api/auth/device-key/options', {}))
    expect(await errorCode(await post(app, '/api/auth/device-key/verify', key.signIn(other.challenge, 10, 'https://other.tailnet.test:7438')))).toBe('SIGN_IN_FAILED')
    const impostor = new SoftDeviceKey()
    const third = await json(await post(app, '/api/auth/device-key/options', {}))
    expect(await errorCode(await post(app, '/api/auth/device-key/verify', { ...impostor.signIn(third.challenge, 11), keyId: key.keyId }))).toBe('SIGN_IN_FAILED')
    // A passkey sign-in cannot name a device key, nor the other way round.
    const passkey = new SoftAuthenticator(rpID, origin)
    const options = await json(await post(app, '/api/auth/options', {}))
    const assertion = passkey.assert(options)
    expect(await errorCode(await post(app, '/api/auth/verify', { response: { ...assertion, id: key.keyId, rawId: key.keyId } }))).toBe('SIGN_IN_FAILED')
    expect((await deviceById(id))?.suspect).toBe(false)

    // A good signature over a count already seen: only a copy of the key's state does that.
    expect(await errorCode(await keySignIn(app, key, 1))).toBe('SIGN_IN_FAILED')
    expect((await deviceById(id))?.suspect).toBe(true)
    expect(await errorCode(await keySignIn(app, key))).toBe('SIGN_IN_FAILED')

    const lines = (await auditLines()).filter((e) => e.action === 'sign-in')
    expect(lines.filter((e) => e.result === 'allow').map((e) => [e.deviceId, e.reason])).toEqual([
      [id, 'device key'],
      [id, 'device key'],
    ])
    expect(lines.filter((e) => e.result === 'deny').map((e) => e.reason)).toEqual([
      'SIGN_IN_FAILED: device key',
      'SIGN_IN_FAILED: device key',
      'SIGN_IN_FAILED: device key',
      'SIGN_IN_FAILED: passkey',
      'SIGN_IN_FAILED: device key',
      'SIGN_IN_FAILED: device key',
    ])
  })

  it('answers bad device-key bodies with 400 BAD_REQUEST', async () => {
    const app = makeApp()
    const { secret } = await addPending()
    const key = new SoftDeviceKey()
    const good = key.signIn('A'.repeat(43), 1)
    const cases: Array<[string, unknown]> = [
      ['/api/pair/device-key/options', {}],
      ['/api/pair/device-key/verify', { secret }],
      ['/api/pair/device-key/verify', { secret, key: { ...key.pairing('A'.repeat(43)), publicKey: 'not base64url!' } }],
      ['/api/pair/device-key/verify', { secret, key: { ...key.pairing('A'.repeat(43)), extra: 1 } }],
      ['/api/auth/device-key/options', { secret }],
      ['/api/auth/device-key/verify', { ...good, counter: 0 }],
      ['/api/auth/device-key/verify', { ...good, counter: 1.5 }],
      ['/api/auth/device-key/verify', { ...good, counter: 2 ** 53 }],
      ['/api/auth/device-key/verify', { ...good, keyId: 'short' }],
      ['/api/auth/device-key/verify', { ...good, signature: 'x'.repeat(201) }],
    ]
    for (const [path, body] of cases) {
      const res = await post(app, path, body)
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400)
      expect(await errorCode(res)).toBe('BAD_REQUEST')
    }
  })
})
