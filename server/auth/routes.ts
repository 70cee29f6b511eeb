import { Hono, type Context, type Env, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { parse, serialize } from 'hono/utils/cookie'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
import { jsonBody } from '../http/index.js'
import { appendAudit, readDevices, type DeviceRecord } from '../store/index.js'
import { ChallengeStore } from './challenges.js'
import { tokenKeyFor } from './keys.js'
import { AUTH_LIMITS } from './limits.js'
import { rateLimit, RateLimiter } from './rate-limit.js'
import { issueToken, verifyToken } from './tokens.js'
import { pairingGrant, pairingStatus, type CeremonyConfig } from './ceremony.js'
import { DeviceKeyPairSchema, DeviceKeySignInSchema, deviceKeyPairOptions, deviceKeySignInOptions, verifyDeviceKeyPairing, verifyDeviceKeySignIn } from './device-key.js'
import {
  AuthenticationResponseSchema,
  authenticationOptions,
  RegistrationResponseSchema,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
} from './webauthn.js'

export interface AuthDeps<E extends Env = Env> {
  /** HANDOFF_HOME: devices.json and token.key. */
  home: string
  /** WebAuthn relying-party id: the full MagicDNS name, or `localhost` in loopback mode. */
  rpID: string
  /** The exact origin ceremonies come from and tokens are for (`aud`). */
  origin: string
  /** HTTPS: the cookie is `__Host-handoff` with `Secure`. Loopback http: `handoff`, without. */
  secureCookie: boolean
  /** Session token and cookie lifetime in ms; default 12 hours. */
  tokenTtlMs?: number
  now?: () => number
  /** Who the request's peer is (from its socket, never a header), for rate limiting: `peerKey()` of server/net. */
  peerKey: (c: Context<E>) => string
  /** The peer's tailnet user and node (tailscale whois), recorded on the device it pairs; absent on loopback. */
  peerTailnet?: (c: Context<E>) => { user: string | null; node: string | null }
  /** The peer as the audit log names it (address, and node with user); sign-ins are audited with it. */
  auditPeer?: (c: Context<E>) => { peer: string | null; node: string | null }
}

/** The session cookie's name: `__Host-handoff` over HTTPS (host-only, Secure, Path=/ enforced by browsers), `handoff` on loopback http. */
export const sessionCookieName = (secureCookie: boolean): string => (secureCookie ? '__Host-handoff' : 'handoff')

/** The longest cookie value looked at; a real token is about 250 characters. */
const MAX_TOKEN_CHARS = 4_096

const secret = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/, 'must be the 43-character secret from the pairing link'))
const SecretBody = v.strictObject({ secret })
const PairVerifyBody = v.strictObject({
  secret,
  response: RegistrationResponseSchema,
  deviceName: v.optional(v.pipe(v.string(), v.maxLength(1_024))),
})
const EmptyBody = v.strictObject({})
const AuthVerifyBody = v.strictObject({ response: AuthenticationResponseSchema })
const DeviceKeyPairBody = v.strictObject({
  secret,
  key: DeviceKeyPairSchema,
  deviceName: v.optional(v.pipe(v.string(), v.maxLength(1_024))),
})


const deviceJson = (d: DeviceRecord) => ({ id: d.id, name: d.name, sessions: d.sessions, readOnly: d.readOnly, expiresAt: d.expiresAt })

/**
 * The pairing and sign-in endpoints, with full paths, to mount at `/`:
 * `POST /api/pair/{info,options,verify,status}`,
 * `POST /api/auth/{options,verify,logout}`, and for the native shells' device
 * key `POST /api/pair/device-key/{options,verify}` and
 * `POST /api/auth/device-key/{options,verify}`. Pairing and sign-in are
 * rate-limited per peer address; errors are thrown as HandoffError for the
 * app's onError. Bodies are JSON, checked with valibot.
 *
 * @see docs/auth.md
 * @example
 * app.route('/', createAuthRoutes({ home, rpID: 'localhost', origin: 'http://localhost:8080', secureCookie: false,
 *   peerKey: (c) => peerKey(c.get('peer')) }))
 */
export function createAuthRoutes<E extends Env = Env>(deps: AuthDeps<E>): Hono<E> {
  const now = deps.now ?? Date.now
  const ttlMs = deps.tokenTtlMs ?? AUTH_LIMITS.tokenTtlMs
  if (!(Number.isFinite(ttlMs) && ttlMs >= 60_000)) {
    throw new HandoffError('BAD_CONFIG', 400, `the session token lifetime must be at least 60000 ms, got ${String(deps.tokenTtlMs)}`)
  }
  const cfg: CeremonyConfig = { home: deps.home, rpID: deps.rpID, origin: deps.origin, now, challenges: new ChallengeStore({ now }) }
  const cookieName = sessionCookieName(deps.secureCookie)
  const cookie = (value: string, maxAgeSeconds: number): string =>
    serialize(cookieName, value, { httpOnly: true, secure: deps.secureCookie, sameSite: 'Strict', path: '/', maxAge: maxAgeSeconds })

  const limited = rateLimit(new RateLimiter({ now }), deps.peerKey)
  // The phone polls status while the user types the code: it gets a bucket of its own, and the secret is not guessable anyway.
  const statusLimited = rateLimit(
    new RateLimiter({ now, burst: AUTH_LIMITS.statusRateBurst, perMinute: AUTH_LIMITS.statusRatePerMinute }),
    deps.peerKey,
  )

  const app = new Hono<E>()
  const noStore: MiddlewareHandler<E> = async function noStore(c, next) {
    await next()
    c.header('Cache-Control', 'no-store')
  }
  const limitBody = bodyLimit({
    maxSize: AUTH_LIMITS.bodyBytes,
    onError: () => {
      throw new HandoffError('BODY_TOO_LARGE', 413, `request bodies are limited to ${AUTH_LIMITS.bodyBytes} bytes`)
    },
  })
  for (const path of ['/api/pair/*', '/api/auth/*']) app.use(path, noStore, limitBody)
  for (const path of ['/api/pair/info', '/api/pair/options', '/api/pair/verify', '/api/auth/options', '/api/auth/verify']) app.use(path, limited)
  for (const path of ['/api/pair/device-key/*', '/api/auth/device-key/*']) app.use(path, limited)
  app.use('/api/pair/status', statusLimited)

  /** What a pairing's verify step takes from the request, whatever the credential: the secret, the phone's suggested name, and who it is. */
  const pairingRequest = (c: Context<E>, body: { secret: string; deviceName?: string | undefined }) => ({
    secret: body.secret,
    deviceName: body.deviceName,
    userAgent: c.req.header('user-agent'),
    tailnet: deps.peerTailnet?.(c),
  })

  app.post('/api/pair/info', async (c) => {
    const body = await jsonBody(c.req.raw, SecretBody)
    return c.json(await pairingGrant(cfg, await readDevices(deps.home), body.secret))
  })

  app.post('/api/pair/options', async (c) => {
    const body = await jsonBody(c.req.raw, SecretBody)
    return c.json(await registrationOptions(cfg, body.secret))
  })

  app.post('/api/pair/verify', async (c) => {
    const body = await jsonBody(c.req.raw, PairVerifyBody)
    const { code } = await verifyRegistration(cfg, { ...pairingRequest(c, body), response: body.response })
    return c.json({ code })
  })

  app.post('/api/pair/status', async (c) => {
    const body = await jsonBody(c.req.raw, SecretBody)
    return c.json({ state: pairingStatus(await readDevices(deps.home), body.secret, now()) })
  })

  app.post('/api/auth/options', async (c) => {
    await jsonBody(c.req.raw, EmptyBody)
    return c.json(await authenticationOptions(cfg))
  })

  /**
   * Signs a device in with `verify`: on success sets the session cookie and
   * answers with the device; either way writes the attempt to the audit log
   * (`sign-in`, the credential kind, or the refusal's code).
   */
  const signIn = async (c: Context<E>, kind: 'passkey' | 'device key', verify: () => Promise<DeviceRecord>) => {
    const peer = deps.auditPeer?.(c) ?? { peer: null, node: null }
    const audit = (device: DeviceRecord | null, result: 'allow' | 'deny', reason: string) =>
      appendAudit(deps.home, { deviceId: device?.id ?? null, deviceName: device?.name ?? null, action: 'sign-in', target: null, result, reason, ...peer })
    let device: DeviceRecord
    try {
      device = await verify()
    } catch (err) {
      if (err instanceof HandoffError) await audit(null, 'deny', `${err.code}: ${kind}`).catch(() => {})
      throw err
    }
    await audit(device, 'allow', kind)
    const token = await issueToken(await tokenKeyFor(deps.home), {
      deviceId: device.id,
      generation: device.generation,
      audience: deps.origin,
      ttlMs,
      now: now(),
    })
    c.header('Set-Cookie', cookie(token, Math.ceil(ttlMs / 1000)))
    return c.json({ device: deviceJson(device) })
  }

  app.post('/api/auth/verify', async (c) => {
    const body = await jsonBody(c.req.raw, AuthVerifyBody)
    return signIn(c, 'passkey', async () => verifyAuthentication(cfg, body.response, await readDevices(deps.home)))
  })

  app.post('/api/pair/device-key/options', async (c) => {
    const body = await jsonBody(c.req.raw, SecretBody)
    return c.json(await deviceKeyPairOptions(cfg, body.secret))
  })

  app.post('/api/pair/device-key/verify', async (c) => {
    const body = await jsonBody(c.req.raw, DeviceKeyPairBody)
    const { code } = await verifyDeviceKeyPairing(cfg, { ...pairingRequest(c, body), key: body.key })
    return c.json({ code })
  })

  app.post('/api/auth/device-key/options', async (c) => {
    await jsonBody(c.req.raw, EmptyBody)
    return c.json(deviceKeySignInOptions(cfg))
  })

  app.post('/api/auth/device-key/verify', async (c) => {
    const body = await jsonBody(c.req.raw, DeviceKeySignInSchema)
    return signIn(c, 'device key', async () => verifyDeviceKeySignIn(cfg, body, await readDevices(deps.home)))
  })

  app.post('/api/auth/logout', (c) => {
    c.header('Set-Cookie', cookie('', 0))
    return c.body(null, 204)
  })

  return app
}

/**
 * The signed-in device behind a request's `Cookie` header, read fresh from
 * devices.json: null unless the token verifies (HS256, issuer, this origin as
 * audience, not expired) and the device exists, is active, is not suspect,
 * and still has the generation the token was issued at. Only the cookie name
 * of this mode is read (`__Host-handoff` over HTTPS). Call it on every
 * request and every WebSocket upgrade; it does not decide what the device
 * may do (that is the gate's job, including expiry).
 */
export async function authenticate(
  deps: Pick<AuthDeps, 'home' | 'origin' | 'secureCookie' | 'now'>,
  cookieHeader: string | undefined,
): Promise<DeviceRecord | null> {
  if (!cookieHeader) return null
  const name = sessionCookieName(deps.secureCookie)
  const token = parse(cookieHeader, name)[name]
  if (!token || token.length > MAX_TOKEN_CHARS) return null
  const claims = await verifyToken(await tokenKeyFor(deps.home), token, { audience: deps.origin, now: (deps.now ?? Date.now)() })
  if (!claims) return null
  const device = (await readDevices(deps.home)).find((d) => d.id === claims.deviceId)
  if (!device || device.status !== 'active' || device.suspect || device.generation !== claims.generation) return null
  return device
}
