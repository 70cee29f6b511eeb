import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser'
import {
  ApiError,
  deviceKeyPairingOptions,
  deviceKeyPairingVerify,
  deviceKeySignInOptions,
  deviceKeySignInVerify,
  pairingOptions,
  pairingVerify,
  signInOptions,
  signInVerify,
} from './api.js'
import { deviceKeyPlugin, type DeviceKeyPlugin } from './shell/device-key.js'

/**
 * Why a passkey ceremony did not finish, in the terms the screens explain:
 * - `cancelled`: the user closed the prompt, or it timed out (NotAllowedError); trying again is fine.
 * - `address`: the page was opened at an IP address, and WebAuthn needs a name (`localhost`).
 * - `unsupported`: this browser has no WebAuthn.
 * - `server`: the server refused a step; `error.code` says which (`PAIRING_INVALID`, `SIGN_IN_FAILED`…).
 * - `failed`: anything else the browser reported.
 */
export type PasskeyFailure =
  | { kind: 'cancelled' }
  | { kind: 'address'; localUrl: string }
  | { kind: 'unsupported' }
  | { kind: 'server'; error: ApiError }
  | { kind: 'failed'; message: string }

export type PasskeyResult<T> = { ok: true; value: T } | ({ ok: false } & PasskeyFailure)

/**
 * The address to open instead when this page was loaded from an IP literal
 * (127.0.0.1, [::1]): WebAuthn refuses IP addresses as relying-party IDs.
 * Undefined when the page already has a name.
 */
export function nameRequiredUrl(): string | undefined {
  const host = location.hostname
  const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[') || host.includes(':')
  if (!isIp) return undefined
  const loopback = host === '127.0.0.1' || host === '[::1]' || host === '::1'
  // Only loopback has a name we know; a tailnet IP needs the machine's MagicDNS name.
  return loopback ? `${location.protocol}//localhost${location.port ? `:${location.port}` : ''}` : `${location.protocol}//<this computer's name>`
}

/**
 * Creates this phone's credential for a pairing link: a passkey, or inside a
 * native shell its device key (passkeys cannot work in a store app's web
 * view). Answers the 6-digit code `handoff pair` asks for.
 */
export function createPasskey(secret: string): Promise<PasskeyResult<string>> {
  return ceremony({
    passkey: async () => {
      const optionsJSON = await pairingOptions(secret)
      const response = await startRegistration({ optionsJSON })
      return pairingVerify(secret, response)
    },
    deviceKey: async (plugin) => {
      const { challenge } = await deviceKeyPairingOptions(secret)
      return deviceKeyPairingVerify(secret, { ...(await plugin.pair({ challenge })), challenge })
    },
  })
}

/** Signs in with this phone's passkey (or a shell's device key); the server sets the session cookie. */
export function signInWithPasskey(): Promise<PasskeyResult<void>> {
  return ceremony({
    passkey: async () => {
      const optionsJSON = await signInOptions()
      const response = await startAuthentication({ optionsJSON })
      await signInVerify(response)
    },
    deviceKey: async (plugin) => {
      const { challenge } = await deviceKeySignInOptions()
      await deviceKeySignInVerify({ ...(await plugin.signIn({ challenge })), challenge })
    },
  })
}

async function ceremony<T>(ways: { passkey: () => Promise<T>; deviceKey: (plugin: DeviceKeyPlugin) => Promise<T> }): Promise<PasskeyResult<T>> {
  const plugin = deviceKeyPlugin()
  if (plugin) return attempt(() => ways.deviceKey(plugin))
  const localUrl = nameRequiredUrl()
  if (localUrl) return { ok: false, kind: 'address', localUrl }
  if (!browserSupportsWebAuthn()) return { ok: false, kind: 'unsupported' }
  return attempt(ways.passkey)
}

async function attempt<T>(run: () => Promise<T>): Promise<PasskeyResult<T>> {
  try {
    return { ok: true, value: await run() }
  } catch (error) {
    return { ok: false, ...failureOf(error) }
  }
}

function failureOf(error: unknown): PasskeyFailure {
  if (error instanceof ApiError) return { kind: 'server', error }
  // @simplewebauthn wraps DOMExceptions in a WebAuthnError that keeps the original name.
  const name = error instanceof Error ? error.name : ''
  if (name === 'NotAllowedError' || name === 'AbortError') return { kind: 'cancelled' }
  if (name === 'SecurityError') {
    const localUrl = nameRequiredUrl()
    if (localUrl) return { kind: 'address', localUrl }
    return {
      kind: 'failed',
      message: `${location.host} is not the name this Handoff server signs in for. Open the exact link handoff printed.`,
    }
  }
  return { kind: 'failed', message: error instanceof Error ? error.message : String(error) }
}

/** One sentence for a failure, for the sign-in screen and the pairing page alike. */
export function describeFailure(failure: PasskeyFailure): string {
  switch (failure.kind) {
    case 'cancelled':
      return 'The passkey prompt was cancelled or timed out. Try again.'
    case 'address':
      return `Passkeys need a name, not an IP address. Open ${failure.localUrl} instead (the same link, with the address replaced).`
    case 'unsupported':
      return 'This browser does not support passkeys. Open the link in Safari, Chrome or Firefox.'
    case 'server':
      return failure.error.message
    case 'failed':
      return `The passkey could not be used: ${failure.message}`
  }
}
