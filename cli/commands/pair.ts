import { confirm, input, select } from '@inquirer/prompts'
import QRCode from 'qrcode'
import { codesEqual, hashPairingSecret, newPairingSecret, pairingCode, UNNAMED_DEVICE } from '../../server/auth/index.js'
import { resolveConfig } from '../../server/config.js'
import { HandoffError } from '../../server/errors.js'
import { formatSessionPatterns, parseSessionPatterns } from '../../server/gate/index.js'
import { newDeviceId, readDevices, sanitizeDeviceName, updateDevices, type DeviceRecord } from '../../server/store/index.js'
import { Tmux } from '../../server/tmux/index.js'
import { describeExpiry, parseExpiry, parseSessionsFlag } from '../grant-flags.js'
import type { CommonFlags } from '../main.js'
import { Exit, fail, note } from '../output.js'
import { serverState } from '../server-record.js'

export interface PairFlags extends CommonFlags {
  sessions?: string
  readOnly?: boolean
  expires?: string
  name?: string
}

export const PAIRING = {
  /** A pairing link lives this long (ms). */
  ttlMs: 5 * 60_000,
  /** Wrong codes before the pairing is cancelled. */
  codeAttempts: 3,
  /** How often the CLI looks at devices.json while it waits (ms). */
  pollMs: 200,
} as const

type Outcome = { kind: 'registered'; device: DeviceRecord } | { kind: 'burned' } | { kind: 'gone' } | { kind: 'expired' }

/** Waits until the phone registers, the link is burned or removed, or time runs out. */
async function waitForPhone(home: string, id: string, expiresAt: number, signal: AbortSignal): Promise<Outcome> {
  while (!signal.aborted) {
    const device = (await readDevices(home)).find((d) => d.id === id)
    if (!device?.pairing) return { kind: 'gone' }
    if (device.pairing.state === 'burned') return { kind: 'burned' }
    if (device.pairing.state === 'registered' && device.credential) return { kind: 'registered', device }
    if (Date.now() >= expiresAt) return { kind: 'expired' }
    await new Promise((r) => setTimeout(r, PAIRING.pollMs))
  }
  return { kind: 'gone' }
}

/** Removes every trace of the pending device. */
const cancel = (home: string, id: string) => updateDevices(home, (devices) => devices.filter((d) => d.id !== id))

/** `handoff pair`: enrolls a phone's passkey; the grant comes from flags or questions. */
export async function pair(flags: PairFlags): Promise<void> {
  const config = resolveConfig(flags)
  // Bad flags are usage errors (exit 2), whether or not a server runs.
  const givenSessions = flags.sessions === undefined ? undefined : parseSessionsFlag(flags.sessions)
  const givenExpiry = flags.expires === undefined ? undefined : parseExpiry(flags.expires)
  const name = flags.name === undefined ? null : sanitizeDeviceName(flags.name)
  if (name === '') fail('--name must have at least one visible character', Exit.Usage)
  const server = await serverState(config.home, config.port)
  if (!server.running) fail(`Handoff is not running, so no phone could reach it. Start it with: handoff serve`, Exit.NotRunning)
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)

  const sessionsText =
    givenSessions ??
    (interactive
      ? await input({
          message: `Sessions this phone may open (now: ${(await new Tmux(config.tmuxSocket).listSessions()).map((s) => s.name).join(', ') || 'none'}); * for all, or like main,work-*`,
          default: '*',
          validate: (v) => {
            try {
              parseSessionPatterns(v)
              return true
            } catch (err) {
              return err instanceof Error ? err.message : 'invalid patterns'
            }
          },
        })
      : '*')
  const sessions = formatSessionPatterns(parseSessionPatterns(sessionsText))
  const readOnly =
    flags.readOnly ?? (interactive ? await confirm({ message: 'Read-only (it can watch, never type)?', default: false }) : false)
  const expiry =
    givenExpiry !== undefined
      ? givenExpiry
      : parseExpiry(
          interactive
            ? await select({
                message: 'Access expires',
                choices: ['1d', '7d', '30d', 'never'].map((value) => ({ value, name: value === 'never' ? 'never' : `after ${value}` })),
                default: '30d',
              })
            : '30d',
        )

  const secret = newPairingSecret()
  const now = Date.now()
  const expiresAt = now + PAIRING.ttlMs
  const id = newDeviceId()
  await updateDevices(config.home, (devices) => [
    ...devices,
    {
      id,
      name: name ?? UNNAMED_DEVICE,
      status: 'pending',
      sessions,
      readOnly,
      createdAt: now,
      expiresAt: expiry === null ? null : now + expiry,
      lastSeenAt: null,
      renewalRequestedAt: null,
      credential: null,
      tailnetUser: null,
      tailnetNode: null,
      generation: 0,
      suspect: false,
      nameFromUser: name !== null,
      pairing: { secretHash: hashPairingSecret(secret), expiresAt, state: 'waiting', challenge: null },
    },
  ])

  // Ctrl-C, a wrong code three times, a burned link or the timeout all leave nothing behind.
  const abort = new AbortController()
  const onSigint = () => abort.abort()
  process.once('SIGINT', onSigint)
  try {
    const url = `${server.url}/pair#${secret}`
    const qr = await QRCode.toString(url, { type: 'terminal', small: true })
    process.stdout.write(
      `${qr}\nScan with the phone's camera, or open:\n  ${url}\n\n` +
        `Grant: sessions ${sessions}, ${readOnly ? 'read-only' : 'full control'}, expires ${describeExpiry(expiry === null ? null : now + expiry, now)}.\n` +
        'The link works once, for 5 minutes.\n\n',
    )
    note('waiting for the phone to create its passkey...')
    const outcome = await waitForPhone(config.home, id, expiresAt, abort.signal)
    if (outcome.kind !== 'registered') {
      await cancel(config.home, id)
      if (outcome.kind === 'burned') {
        fail('WARNING: the pairing link was used by two devices, so it was cancelled and no device was added. Someone else may have seen the QR code. Run handoff pair again.')
      }
      if (outcome.kind === 'expired') fail('the pairing link expired (5 minutes). Run handoff pair again.')
      fail(abort.signal.aborted ? 'pairing cancelled' : 'the pairing was removed', abort.signal.aborted ? 130 : Exit.Failure)
    }
    const credential = outcome.device.credential
    if (!credential) throw new HandoffError('INTERNAL', 500, 'registered without a credential')
    const expected = pairingCode(secret, credential.id, credential.publicKey)
    for (let attempt = 1; attempt <= PAIRING.codeAttempts; attempt++) {
      const typed = (await input({ message: `Type the 6-digit code shown on the phone (${outcome.device.name})` }, { signal: abort.signal })).trim()
      if (codesEqual(typed.replace(/\s+/g, ''), expected)) {
        const active = await activate(config.home, id)
        process.stdout.write(
          `Paired "${active.name}": sessions ${active.sessions}, ${active.readOnly ? 'read-only' : 'full control'}, expires ${describeExpiry(active.expiresAt)}.\n`,
        )
        return
      }
      note(attempt < PAIRING.codeAttempts ? `wrong code (${PAIRING.codeAttempts - attempt} tries left)` : 'wrong code')
    }
    await cancel(config.home, id)
    fail('three wrong codes: pairing cancelled, no device was added')
  } catch (err) {
    await cancel(config.home, id)
    if (abort.signal.aborted || (err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError'))) {
      fail('pairing cancelled, no device was added', 130)
    }
    throw err
  } finally {
    process.off('SIGINT', onSigint)
  }
}

/** The code matched: the device becomes active, unless the link was burned meanwhile. */
async function activate(home: string, id: string): Promise<DeviceRecord> {
  let result: DeviceRecord | undefined
  await updateDevices(home, (devices) =>
    devices.map((d) => {
      if (d.id !== id || d.pairing?.state !== 'registered') return d
      result = { ...d, status: 'active', generation: d.generation + 1, pairing: { ...d.pairing, state: 'confirmed' } }
      return result
    }),
  )
  if (!result) fail('the pairing link was used again before the code was typed, so it was cancelled. Run handoff pair again.')
  return result
}
