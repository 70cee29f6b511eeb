import { randomBytes } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
import { jsonStateFile } from './json-file.js'
import type { LockOptions } from './lock.js'

export const DEVICE_LIMITS = {
  nameChars: 64, // characters (Unicode code points) in a device name, cut at a grapheme boundary
  sessionsChars: 1_024, // the session patterns text
  tailnetChars: 256, // tailnet user and node names
  watchPollMs: 500, // watchDevices' stat poll, the fallback when fs.watch says nothing
} as const

/** One paired (or pairing) device, as stored in HANDOFF_HOME/devices.json. Times are ms since the epoch. */
export interface DeviceRecord {
  /** Random, URL-safe (base64url of 16 bytes or more). */
  id: string
  /** Passed through sanitizeDeviceName: no control characters, trimmed, at most 64 characters. */
  name: string
  status: 'pending' | 'active' | 'revoked'
  /** The session patterns as the user typed them, e.g. "*" or "main,work-*". */
  sessions: string
  readOnly: boolean
  createdAt: number
  expiresAt: number | null
  lastSeenAt: number | null
  renewalRequestedAt: number | null
  /**
   * How the device signs in; null while pending. `passkey` (the default): a
   * WebAuthn credential, its COSE public key base64url. `device-key`: the
   * native shells' hardware-bound ECDSA P-256 key (server/auth/device-key.ts),
   * its SPKI base64url, `id` the SPKI's SHA-256.
   */
  credential: { kind?: 'passkey' | 'device-key'; id: string; publicKey: string; counter: number; transports: string[] } | null
  tailnetUser: string | null
  tailnetNode: string | null
  /**
   * Bumped by every change to what the device is or may do (status, grant,
   * credential, suspect, pairing state). Session tokens carry it, so any such
   * change voids them. Bookkeeping (lastSeenAt, the signature counter) leaves it.
   */
  generation: number
  /** Set when the passkey's signature counter went backwards (a cloned authenticator?): the device can no longer sign in. */
  suspect: boolean
  /** True when the name was chosen on the machine (`handoff pair --name`): pairing keeps it rather than naming the device after the phone. */
  nameFromUser?: boolean
  /** Refuse requests from any tailnet node but the one it paired from (`handoff pair --same-node`), not just from other users. */
  sameNodeOnly?: boolean
  /** The pairing in progress, or how it ended. Only the secret's SHA-256 is kept; `challenge` is the outstanding registration challenge. */
  pairing: {
    secretHash: string
    expiresAt: number
    state: 'waiting' | 'registered' | 'confirmed' | 'burned'
    challenge: string | null
  } | null
}

export const DEVICES_FILE = 'devices.json'
export const devicesPath = (home: string): string => join(home, DEVICES_FILE)

/** A new device id: 16 random bytes, base64url (22 characters). */
/** A new device id: 128 random bits, base64url, never starting with `-` (it would read as a flag on the command line). */
export function newDeviceId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

/** A new device record: the grant given, over the defaults of a device never yet paired, seen or changed. */
export function newDevice(
  grant: Pick<DeviceRecord, 'name' | 'status' | 'sessions' | 'readOnly' | 'expiresAt'> & Partial<DeviceRecord>,
  now: number = Date.now(),
): DeviceRecord {
  return {
    id: newDeviceId(),
    createdAt: now,
    lastSeenAt: null,
    renewalRequestedAt: null,
    credential: null,
    tailnetUser: null,
    tailnetNode: null,
    generation: 0,
    suspect: false,
    pairing: null,
    ...grant,
  }
}

// Control characters (C0, DEL, C1), line and paragraph separators, and the
// bidirectional overrides that make a name display as something it is not.
const UNSAFE_CHARS = /[\p{Cc}\p{Zl}\p{Zp}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/**
 * Makes a name safe to store and print: NFC, control characters and bidi
 * overrides removed, trimmed, at most 64 characters (never cutting a
 * character or an emoji sequence in half). May return ''; callers pick a default.
 */
export function sanitizeDeviceName(raw: string): string {
  const clean = raw.normalize('NFC').replace(UNSAFE_CHARS, '').trim()
  let out = ''
  let count = 0
  for (const { segment } of graphemes.segment(clean)) {
    const n = [...segment].length
    if (count + n > DEVICE_LIMITS.nameChars) break
    out += segment
    count += n
  }
  return out.trim()
}

const base64url = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, 'must be base64url'))
const time = v.pipe(v.number(), v.integer(), v.minValue(0))
const printable = (max: number) =>
  v.pipe(
    v.string(),
    v.maxLength(max),
    v.check((s) => !/[\p{Cc}]/u.test(s), 'must not contain control characters'),
  )

const DeviceSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22,}$/, 'must be at least 22 base64url characters')),
  name: v.pipe(
    v.string(),
    v.minLength(1),
    v.check((s) => sanitizeDeviceName(s) === s, 'must be sanitized (no control characters, trimmed, at most 64 characters)'),
  ),
  status: v.picklist(['pending', 'active', 'revoked']),
  sessions: v.pipe(printable(DEVICE_LIMITS.sessionsChars), v.minLength(1)),
  readOnly: v.boolean(),
  createdAt: time,
  expiresAt: v.nullable(time),
  lastSeenAt: v.nullable(time),
  renewalRequestedAt: v.nullable(time),
  credential: v.nullable(
    v.strictObject({
      kind: v.optional(v.picklist(['passkey', 'device-key'])),
      id: base64url,
      publicKey: base64url,
      counter: time,
      transports: v.array(printable(32)),
    }),
  ),
  tailnetUser: v.nullable(printable(DEVICE_LIMITS.tailnetChars)),
  tailnetNode: v.nullable(printable(DEVICE_LIMITS.tailnetChars)),
  // Defaults keep files written before these fields readable.
  generation: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  suspect: v.optional(v.boolean(), false),
  nameFromUser: v.optional(v.boolean()),
  sameNodeOnly: v.optional(v.boolean()),
  pairing: v.optional(
    v.nullable(
      v.strictObject({
        secretHash: base64url,
        expiresAt: time,
        state: v.picklist(['waiting', 'registered', 'confirmed', 'burned']),
        challenge: v.nullable(base64url),
      }),
    ),
    null,
  ),
})

const DevicesFileSchema = v.strictObject({
  version: v.literal(1),
  devices: v.pipe(
    v.array(DeviceSchema),
    v.check((ds) => new Set(ds.map((d) => d.id)).size === ds.length, 'device ids must be unique'),
  ),
})

// The schema and the exported interface must agree; this fails to compile if they drift.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _schemaMatchesRecord: Same<v.InferOutput<typeof DeviceSchema>, DeviceRecord> = true
void _schemaMatchesRecord

/** devices.json: parsed again only when it changed, since every request reads it. */
const devicesFile = jsonStateFile({
  name: DEVICES_FILE,
  schema: DevicesFileSchema,
  empty: { version: 1 as const, devices: [] },
  kind: 'a version 1 devices file',
  fix: (path) => `fix it by hand, or move it aside (mv ${JSON.stringify(path)} ${JSON.stringify(`${path}.bad`)}) to start with no devices; every phone will then need pairing again.`,
  cache: true,
})

/**
 * Reads every device record. A missing file is no devices; a corrupt or
 * wrongly-shaped file is BAD_STATE, never overwritten. The records are
 * frozen: they may be the ones the last read returned.
 */
export async function readDevices(home: string): Promise<DeviceRecord[]> {
  return [...(await devicesFile.read(home)).devices]
}

/**
 * Read-modify-write of devices.json under its lock: `change` gets the current
 * records and returns the new list, which is validated before anything is
 * written (atomically, 0600). Returns what was written. Safe against the CLI
 * and the server changing devices at the same moment.
 *
 * @example
 * await updateDevices(home, (ds) => ds.map((d) => (d.id === id ? { ...d, status: 'revoked' } : d)))
 */
export async function updateDevices(
  home: string,
  change: (devices: DeviceRecord[]) => DeviceRecord[] | Promise<DeviceRecord[]>,
  options: LockOptions = {},
): Promise<DeviceRecord[]> {
  const file = await devicesFile.update(home, async (current) => ({ version: 1 as const, devices: await change(current.devices) }), options)
  return file.devices
}

/**
 * Finds exactly one device by id, or by name (exact first, then ignoring
 * case). DEVICE_NOT_FOUND when nothing matches, DEVICE_AMBIGUOUS listing the
 * matches when several do.
 */
export function findDeviceByName(devices: readonly DeviceRecord[], nameOrId: string): DeviceRecord {
  const byId = devices.find((d) => d.id === nameOrId)
  if (byId) return byId
  const wanted = sanitizeDeviceName(nameOrId)
  let matches = devices.filter((d) => d.name === wanted)
  if (matches.length === 0) {
    const lower = wanted.toLocaleLowerCase()
    matches = devices.filter((d) => d.name.toLocaleLowerCase() === lower)
  }
  const [first, ...rest] = matches
  if (first && rest.length === 0) return first
  if (!first) {
    throw new HandoffError(
      'DEVICE_NOT_FOUND',
      404,
      `no device named ${JSON.stringify(wanted)}. List devices with: handoff devices`,
    )
  }
  const list = matches.map((d) => `${JSON.stringify(d.name)} (id ${d.id}, ${d.status})`).join(', ')
  throw new HandoffError(
    'DEVICE_AMBIGUOUS',
    409,
    `${matches.length} devices are named ${JSON.stringify(wanted)}: ${list}. Name one by its id instead`,
  )
}

/**
 * Calls `onChange` soon after devices.json changes, whoever changed it
 * (another process included): within about a second. Uses fs.watch on the
 * folder plus a stat poll, since fs.watch misses events on some file systems.
 * Returns a function that stops watching; calling it twice is harmless.
 * `onChange` takes no arguments: read the devices again with readDevices.
 */
export function watchDevices(home: string, onChange: () => void, pollMs: number = DEVICE_LIMITS.watchPollMs): () => void {
  const path = devicesPath(home)
  let last: string | undefined
  let stopped = false
  let checking: Promise<void> | undefined
  let again = false

  // An atomic write replaces the inode, so ino catches it even when mtime and size repeat.
  const signature = async (): Promise<string> => {
    try {
      const s = await stat(path, { bigint: true })
      return `${s.ino}:${s.mtimeNs}:${s.size}:${s.ctimeNs}`
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`
    }
  }
  const check = (): void => {
    if (stopped) return
    if (checking) {
      again = true
      return
    }
    checking = (async () => {
      do {
        again = false
        const now = await signature()
        if (stopped) return
        if (last !== undefined && now !== last) {
          last = now
          onChange()
        } else last = now
      } while (again && !stopped)
    })().finally(() => {
      checking = undefined
    })
  }

  check() // the baseline
  const timer = setInterval(check, pollMs)
  timer.unref()
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(home, { persistent: false }, (_event, filename) => {
      if (filename === null || filename === DEVICES_FILE) check()
    })
    watcher.on('error', () => {
      watcher?.close() // the poll carries on alone
    })
  } catch {
    // No folder yet, or no fs.watch here: the poll alone notices changes.
  }
  return () => {
    if (stopped) return
    stopped = true
    clearInterval(timer)
    watcher?.close()
  }
}
