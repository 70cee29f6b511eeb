import { confirm, input, select } from '@inquirer/prompts'
import QRCode from 'qrcode'
import { codesEqual, hashPairingSecret, newPairingSecret, pairingCode, UNNAMED_DEVICE } from '../../server/auth/index.js'
import { resolveConfig } from '../../server/config.js'
import { HandoffError } from '../../server/errors.js'
import { formatSessionPatterns, parseSessionPatterns } from '../../server/gate/index.js'
import { newDevice, newDeviceId, readDevices, sanitizeDeviceName, updateDevices, type DeviceRecord } from '../../server/store/index.js'
import { Tmux } from '../../server/tmux/index.js'
import { describeExpiry, parseExpiry, parseSessionsFlag } from '../grant-flags.js'
import type { CommonFlags } from '../main.js'
import { Exit, fail, note } from '../output.js'
import { serverState } from '../server-record.js'
import { forTerminal } from '../../server/untrusted.js'

export interface PairFlags extends CommonFlags {
  sessions?: string
  readOnly?: boolean
  readWrite?: boolean
  sameNode?: boolean
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

/**
 * Watches the pending device while its pairing is in state `from`: resolves
 * when the phone registers (from 'waiting'), the link is burned or removed,
 * or time runs out. An abort resolves with the state as it last was.
 */
async function watchPairing(home: string, id: string, expiresAt: number, from: 'waiting' | 'registered', signal: AbortSignal): Promise<Outcome> {
  let last: Outcome = { kind: 'gone' }
  while (!signal.aborted) {
    const device = (await readDevices(home)).find((d) => d.id === id)
    if (!device?.pairing) return { kind: 'gone' }
    if (device.pairing.state === 'burned') return { kind: 'burned' }
    if (device.pairing.state === 'registered' && device.credential) {
      last = { kind: 'registered', device }
      if (from === 'waiting') return last
    }
    if (Date.now() >= expiresAt) return { kind: 'expired' }
    await new Promise((r) => setTimeout(r, PAIRING.pollMs))
  }
  return last
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
  if (flags.readOnly && flags.readWrite) fail('give --read-only or --read-write, not both', Exit.Usage)
  const readOnly =
    flags.readOnly ??
    (flags.readWrite ? false : interactive ? await confirm({ message: 'Read-only (it can watch, never type)?', default: false }) : false)
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
    newDevice(
      {
        id,
        name: name ?? UNNAMED_DEVICE,
        status: 'pending',
        sessions,
        readOnly,
        expiresAt: expiry === null ? null : now + expiry,
        nameFromUser: name !== null,
        sameNodeOnly: flags.sameNode === true,
        pairing: { secretHash: hashPairingSecret(secret), expiresAt, state: 'waiting', challenge: null },
      },
      now,
    ),
  ])

  // Ctrl-C, a wrong code three times, a burned link or the timeout all leave nothing behind.
  const end = async (why: Ending): Promise<never> => {
    await cancel(config.home, id)
    fail(ENDINGS[why].message, ENDINGS[why].exit)
  }
  const cancelled = new AbortController()
  const onSigint = () => cancelled.abort()
  process.once('SIGINT', onSigint)
  try {
    const url = `${server.url}/pair#${secret}`
    const qr = await QRCode.toString(url, { type: 'terminal', small: true })
    process.stdout.write(
      `${qr}\nScan with the phone's camera, or open:\n  ${url}\n\n` +
        `Grant: sessions ${sessions}, ${readOnly ? 'read-only' : 'full control'}, expires ${describeExpiry(expiry === null ? null : now + expiry, now)}.\n` +
        'The link works once, for 5 minutes.\n\n',
    )
    if (server.record?.mode !== 'tailnet') {
      note('note: the server runs on loopback only, so only a browser on this machine can open the link. To pair a phone, run "handoff setup" and serve on the tailnet.')
    }
    note('waiting for the phone to create its passkey...')
    const outcome = await watchPairing(config.home, id, expiresAt, 'waiting', cancelled.signal)
    if (outcome.kind !== 'registered') return await end(cancelled.signal.aborted ? 'cancelled' : outcome.kind)
    const credential = outcome.device.credential
    if (!credential) throw new HandoffError('INTERNAL', 500, 'registered without a credential')
    const expected = pairingCode(secret, credential.id, credential.publicKey)

    // While the user types, a second phone may burn the link, or it may expire: stop the prompt and say so.
    const prompt = new AbortController()
    cancelled.signal.addEventListener('abort', () => prompt.abort())
    const interruption = watchPairing(config.home, id, expiresAt, 'registered', prompt.signal).then((o) => {
      if (o.kind !== 'registered') prompt.abort()
      return o
    })
    try {
      for (let attempt = 1; attempt <= PAIRING.codeAttempts; attempt++) {
        const typed = (await input({ message: `Type the 6-digit code shown on the phone (${forTerminal(outcome.device.name)})` }, { signal: prompt.signal })).trim()
        if (codesEqual(typed.replace(/\s+/g, ''), expected)) {
          const active = await activate(config.home, id)
          if (!active) return await end((await watchPairing(config.home, id, expiresAt, 'registered', prompt.signal)).kind === 'burned' ? 'burned' : 'gone')
          process.stdout.write(
            `Paired "${forTerminal(active.name)}": sessions ${forTerminal(active.sessions)}, ${active.readOnly ? 'read-only' : 'full control'}, expires ${describeExpiry(active.expiresAt)}.\n`,
          )
          return
        }
        note(attempt < PAIRING.codeAttempts ? `wrong code (${PAIRING.codeAttempts - attempt} tries left)` : 'wrong code')
      }
      return await end('wrong-codes')
    } catch (err) {
      if (!prompt.signal.aborted) throw err
      const o = await interruption
      return await end(cancelled.signal.aborted || o.kind === 'registered' ? 'cancelled' : o.kind)
    } finally {
      prompt.abort()
    }
  } catch (err) {
    if (cancelled.signal.aborted || (err instanceof Error && err.name === 'ExitPromptError')) return await end('cancelled')
    await cancel(config.home, id)
    throw err
  } finally {
    process.off('SIGINT', onSigint)
  }
}

type Ending = 'burned' | 'expired' | 'gone' | 'cancelled' | 'wrong-codes'

/** How each way a pairing can end without a device is told; every one removes the pending device. */
const ENDINGS: Record<Ending, { message: string; exit: number }> = {
  burned: {
    message:
      'WARNING: the pairing link was used by two devices, so it was cancelled and no device was added. Someone else may have seen the QR code. Run handoff pair again.',
    exit: Exit.Failure,
  },
  expired: { message: 'the pairing link expired (5 minutes) and no device was added. Run handoff pair again.', exit: Exit.Failure },
  gone: { message: 'the pairing was removed (by handoff devices rm?) and no device was added', exit: Exit.Failure },
  cancelled: { message: 'pairing cancelled, no device was added', exit: 130 },
  'wrong-codes': { message: 'three wrong codes: pairing cancelled, no device was added', exit: Exit.Failure },
}

/** The code matched: the device becomes active; undefined if the link was burned or removed meanwhile. */
async function activate(home: string, id: string): Promise<DeviceRecord | undefined> {
  let result: DeviceRecord | undefined
  await updateDevices(home, (devices) =>
    devices.map((d) => {
      if (d.id !== id || d.pairing?.state !== 'registered') return d
      result = { ...d, status: 'active', generation: d.generation + 1, pairing: { ...d.pairing, state: 'confirmed' } }
      return result
    }),
  )
  return result
}
