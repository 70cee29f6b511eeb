import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/browser'
import type { AnswerSentJson, AnswerStateJson, DeviceJson, DeviceKeyPairing, DeviceKeySignIn, EventJson, RecentEventsJson, SessionJson, WindowJson } from '../protocol/index.js'

// The JSON shapes are the server's own (protocol/api.ts), so the two cannot
// drift; here under the names the web code uses.
export type { AnswerSentJson, AnswerStateJson, SessionsEventJson, SessionWithWindowsJson } from '../protocol/index.js'

/** A tmux session as `GET /api/sessions` lists it (docs/protocol.md). */
export type Session = SessionJson

/** A tmux window as `GET /api/sessions/:session/windows` lists it. */
export type TmuxWindow = WindowJson

/** This phone as the server knows it (`GET /api/me`). */
export type Device = DeviceJson

/** This device's push subscription as the server keeps it (`GET /api/push/subscription`). */
export interface ServerPushSubscription {
  endpoint: string
  /** Pushes carry the title only. */
  private: boolean
}

/** A subscription to hand to the server: the browser's endpoint and keys. */
export interface NewPushSubscription {
  endpoint: string
  keys: { p256dh: string; auth: string }
  private: boolean
}

/**
 * A request the server refused (its `{error: {code, message}}` body), or one
 * that never got an answer (`code` is `NETWORK_ERROR`).
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** What a pairing link grants, shown before the passkey is created. */
export interface PairingGrant {
  sessions: string
  readOnly: boolean
  expiresAt: number | null
  name: string | null
}

/** 'waiting' until a passkey is registered, 'registered' until the code is typed; then one of the two ends. */
export type PairingState = 'waiting' | 'registered' | 'confirmed' | 'burned'

/**
 * Codes after which the phone has to sign in (again) or ask for renewal,
 * whatever screen made the request.
 */
export type AccessLoss = 'NOT_SIGNED_IN' | 'DEVICE_EXPIRED'

let accessLost: (code: AccessLoss) => void = () => {}

/**
 * Registers the one handler told when a request finds the phone signed out
 * (401 `NOT_SIGNED_IN`) or expired (403 `DEVICE_EXPIRED`). It runs before
 * the failing call rejects, so the screen that made it can see it was replaced.
 */
export function onAccessLost(handler: (code: AccessLoss) => void): void {
  accessLost = handler
}

export const listSessions = (): Promise<Session[]> => request<Session[]>('GET', '/api/sessions')

export const listWindows = (session: string): Promise<TmuxWindow[]> =>
  request<TmuxWindow[]>('GET', `/api/sessions/${encodeURIComponent(session)}/windows`)

export const createSession = (name: string): Promise<Session> =>
  request<Session>('POST', '/api/sessions', { name })

/** Opens a new window at the end of a session (`name` empty: tmux names it after its command). */
export const createWindow = (session: string): Promise<TmuxWindow> =>
  request<TmuxWindow>('POST', `/api/sessions/${encodeURIComponent(session)}/windows`, {})

/** Ends a session and everything running in it. */
export const killSession = (session: string): Promise<void> =>
  request<void>('DELETE', `/api/sessions/${encodeURIComponent(session)}`)

/** Ends one window and everything running in it. */
export const killWindow = (session: string, index: number): Promise<void> =>
  request<void>('DELETE', `/api/sessions/${encodeURIComponent(session)}/windows/${index}`)

/** The newest events this device may see, newest first (the inbox). Unchecked JSON: the caller validates each. */
export const recentEvents = (): Promise<EventJson[]> =>
  request<RecentEventsJson>('GET', '/api/events/recent').then((r) => r.events)

/** The server's VAPID public key (base64url), to subscribe with. */
export const pushKey = (): Promise<string> => request<{ publicKey: string }>('GET', '/api/push/key').then((r) => r.publicKey)

export const pushSubscription = (): Promise<ServerPushSubscription | null> =>
  request<{ subscription: ServerPushSubscription | null }>('GET', '/api/push/subscription').then((r) => r.subscription)

/** Stores this device's subscription, replacing its previous one. */
export const savePushSubscription = (subscription: NewPushSubscription): Promise<void> =>
  request<unknown>('POST', '/api/push/subscription', subscription).then(() => undefined)

export const deletePushSubscription = (endpoint: string): Promise<void> =>
  request<void>('DELETE', '/api/push/subscription', { endpoint })

/** Pushes a test notification to this device; answers how many were sent. */
export const sendTestPush = (): Promise<number> => request<{ sent: number }>('POST', '/api/push/test', {}).then((r) => r.sent)

/** What event `id` lets this phone answer, and whether it still can (docs/protocol.md#answers). */
export const answerState = (id: number): Promise<AnswerStateJson> => request<AnswerStateJson>('GET', `/api/events/${id}/answer`)

/** Types choice `choice` of event `id` into its pane. */
export const answerEvent = (id: number, choice: number): Promise<AnswerSentJson> =>
  request<AnswerSentJson>('POST', `/api/events/${id}/answer`, { choice })

/** The signed-in device; rejects with `NOT_SIGNED_IN` (not reported to `onAccessLost`: asking is how we find out). */
export const me = (): Promise<Device> =>
  request<{ device: Device }>('GET', '/api/me', undefined, { quiet: true }).then((r) => r.device)

/** Asks the computer's owner to renew this phone's access (`handoff devices`). */
export const requestRenewal = (): Promise<void> => request<void>('POST', '/api/renew', {})

export const signOut = (): Promise<void> => request<void>('POST', '/api/auth/logout', {}, { quiet: true })

/** Sign-in ceremony: options for `startAuthentication`, then the signed response. */
export const signInOptions = (): Promise<PublicKeyCredentialRequestOptionsJSON> =>
  request<PublicKeyCredentialRequestOptionsJSON>('POST', '/api/auth/options', {}, { quiet: true })

export const signInVerify = (response: AuthenticationResponseJSON): Promise<void> =>
  request<unknown>('POST', '/api/auth/verify', { response }, { quiet: true }).then(() => undefined)

// Pairing calls carry the one-time secret in the body, never in the URL, so
// it stays out of server logs and history.

export const pairingGrant = (secret: string): Promise<PairingGrant> =>
  request<PairingGrant>('POST', '/api/pair/info', { secret }, { quiet: true })

export const pairingOptions = (secret: string): Promise<PublicKeyCredentialCreationOptionsJSON> =>
  request<PublicKeyCredentialCreationOptionsJSON>('POST', '/api/pair/options', { secret }, { quiet: true })

/** Sends the new passkey; answers the code the user types into `handoff pair`. */
export const pairingVerify = (secret: string, response: RegistrationResponseJSON): Promise<string> =>
  request<{ code: string }>('POST', '/api/pair/verify', { secret, response }, { quiet: true }).then((r) => r.code)

// The native shells' device key, in place of a passkey (docs/auth.md).

export const deviceKeyPairingOptions = (secret: string): Promise<{ challenge: string }> =>
  request<{ challenge: string }>('POST', '/api/pair/device-key/options', { secret }, { quiet: true })

/** Sends the shell's new device key; answers the code the user types into `handoff pair`. */
export const deviceKeyPairingVerify = (secret: string, key: DeviceKeyPairing): Promise<string> =>
  request<{ code: string }>('POST', '/api/pair/device-key/verify', { secret, key }, { quiet: true }).then((r) => r.code)

export const deviceKeySignInOptions = (): Promise<{ challenge: string }> =>
  request<{ challenge: string }>('POST', '/api/auth/device-key/options', {}, { quiet: true })

export const deviceKeySignInVerify = (signed: DeviceKeySignIn): Promise<void> =>
  request<unknown>('POST', '/api/auth/device-key/verify', signed, { quiet: true }).then(() => undefined)

export const pairingStatus = (secret: string): Promise<PairingState> =>
  request<{ state: PairingState }>('POST', '/api/pair/status', { secret }, { quiet: true }).then((r) => r.state)

async function request<T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  options: { quiet?: boolean } = {},
): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      // Answers describe live tmux state; a cached list would lie.
      cache: 'no-store',
    })
  } catch (cause) {
    throw new ApiError('NETWORK_ERROR', 0, `Could not reach the Handoff server (${String(cause)}).`)
  }
  if (!response.ok) {
    const error = await errorFrom(response)
    if (!options.quiet && (error.code === 'NOT_SIGNED_IN' || error.code === 'DEVICE_EXPIRED')) accessLost(error.code)
    throw error
  }
  // 204 (renew, maybe logout) has no body.
  const text = await response.text()
  return (text ? JSON.parse(text) : undefined) as T
}

async function errorFrom(response: Response): Promise<ApiError> {
  const fallback = `The server answered ${response.status} ${response.statusText}.`.replace(' .', '.')
  try {
    const body: unknown = await response.json()
    if (isErrorBody(body)) return new ApiError(body.error.code, response.status, body.error.message)
  } catch {
    // Not JSON (a proxy's error page, say): the status line is all we have.
  }
  return new ApiError('HTTP_' + response.status, response.status, fallback)
}

function isErrorBody(body: unknown): body is { error: { code: string; message: string } } {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false
  const error: unknown = body.error
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  )
}
