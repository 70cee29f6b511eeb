import { access, constants, mkdir, readdir, rm, stat, statfs } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import * as v from 'valibot'
import { HandoffError, isHandoffError } from '../errors.js'
import { hasControlChars } from '../untrusted.js'
import { appendStateFile, openStateFile, readStateFile } from './files.js'
import { rotateLines } from './lines-file.js'
import { withFileLock } from './lock.js'

export const AUDIT_LIMITS = {
  fileBytes: 10 * 1024 * 1024, // audit.jsonl is rotated before a line would take it past this
  keepFiles: 5, // rotated files kept: audit.1.jsonl (newest) to audit.5.jsonl
  fieldChars: 256, // each string field, in code points; longer ones are cut and end in "…"
  minFreeBytes: 1024 * 1024, // auditHealth reports a disk with less free space as a problem
} as const

/** One audit line. There is deliberately no field for secrets, cookies or tokens. */
export interface AuditEntry {
  /** ISO 8601, UTC. */
  ts: string
  deviceId: string | null
  deviceName: string | null
  /** A gate action (list, attach, input, ...) or a management one (pair, sign-in, revoke, ...). */
  action: string
  /** The session, window or device acted on. */
  target: string | null
  result: 'allow' | 'deny'
  /** Why: the gate's deny code, or a short note for an allow. */
  reason: string | null
  /** The socket peer address. */
  peer: string | null
  /** The tailnet node (and user) tailscale whois gave, where known. */
  node: string | null
  /**
   * Present (true) when a field held control characters or bidirectional
   * controls: what was asked for is kept exactly (JSON-escaped), and
   * `handoff logs` shows it escaped and flagged.
   */
  controls?: true
}

/** What appendAudit takes: an entry without its time, which defaults to now (ms since the epoch), or its flag. */
export type AuditInput = Omit<AuditEntry, 'ts' | 'controls'> & { ts?: number }

export interface AuditOptions {
  fileBytes?: number
  keepFiles?: number
}

export type AuditHealth = { ok: true } | { ok: false; reason: string; since: string }

export const AUDIT_FILE = 'audit.jsonl'
export const auditPath = (home: string): string => join(home, AUDIT_FILE)
const rotatedPath = (home: string, n: number): string => join(home, `audit.${n}.jsonl`)
const ROTATED = /^audit\.([1-9][0-9]*)\.jsonl$/

const text = v.nullable(v.string())
const InputSchema = v.strictObject({
  ts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  deviceId: text,
  deviceName: text,
  action: v.string(),
  target: text,
  result: v.picklist(['allow', 'deny']),
  reason: text,
  peer: text,
  node: text,
})
const EntrySchema = v.strictObject({ ...v.omit(InputSchema, ['ts']).entries, ts: v.string(), controls: v.optional(v.literal(true)) })

// Failures seen by appendAudit in this process, by resolved home; cleared by the next good write.
const failures = new Map<string, { reason: string; since: string }>()

/**
 * Appends one line to HANDOFF_HOME/audit.jsonl (0600): one write with
 * O_APPEND, so the CLI and the server never interleave lines. JSON encoding
 * keeps every value on its line, so no name or target can forge an entry.
 * Rotates under the file's lock when the next line would pass
 * `fileBytes`. Throws AUDIT_UNAVAILABLE if the line cannot be written, and
 * remembers why for auditHealth; the caller must then deny the access.
 */
export async function appendAudit(home: string, input: AuditInput, options: AuditOptions = {}): Promise<AuditEntry> {
  const parsed = v.safeParse(InputSchema, input)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    throw new HandoffError('INTERNAL', 500, `bad audit entry: ${v.getDotPath(issue) ?? ''} ${issue.message}`)
  }
  const { ts, ...rest } = parsed.output
  const entry: AuditEntry = {
    ts: new Date(ts ?? Date.now()).toISOString(),
    deviceId: cap(rest.deviceId),
    deviceName: cap(rest.deviceName),
    action: cap(rest.action),
    target: cap(rest.target),
    result: rest.result,
    reason: cap(rest.reason),
    peer: cap(rest.peer),
    node: cap(rest.node),
  }
  const fields = [entry.deviceId, entry.deviceName, entry.action, entry.target, entry.reason, entry.peer, entry.node]
  if (fields.some((f) => f !== null && hasControlChars(f))) entry.controls = true
  const key = resolve(home)
  // After a failed write a partial line may end the file: start on a fresh line.
  const line = `${failures.has(key) ? '\n' : ''}${serialize(entry)}\n`
  const bytes = Buffer.from(line, 'utf8')
  const path = auditPath(home)
  try {
    await rotateIfFull(home, bytes.length, options.fileBytes ?? AUDIT_LIMITS.fileBytes, options.keepFiles ?? AUDIT_LIMITS.keepFiles)
    await appendOnce(path, bytes)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown'
    // A refused state file (a planted link, say) says what it is and the fix itself.
    const reason = isHandoffError(err) ? err.message : `cannot write ${path} (${code}): ${hint(code, path)}`
    if (!failures.has(key)) failures.set(key, { reason, since: new Date().toISOString() })
    else failures.get(key)!.reason = reason
    throw new HandoffError('AUDIT_UNAVAILABLE', 503, `${reason}. New access is denied until the audit log can be written`, {
      cause: err,
    })
  }
  failures.delete(key)
  return entry
}

async function appendOnce(path: string, bytes: Buffer): Promise<void> {
  try {
    await appendStateFile(path, bytes)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await appendStateFile(path, bytes)
  }
}

function hint(code: string, path: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk is full; free some space'
    case 'EISDIR':
      return `${path} is a folder; move it away`
    case 'EACCES':
    case 'EPERM':
      return `check the owner and mode of ${path} and its folder`
    case 'EROFS':
      return 'the file system is read-only'
    default:
      return 'see the error code'
  }
}

// JSON.stringify escapes C0 controls, quotes and lone surrogates. Also escape
// DEL, the C1 controls (U+009B is a terminal's CSI) and U+2028/U+2029, which
// some readers treat as line breaks: the line stays valid JSON and parses back the same.
const serialize = (entry: AuditEntry): string =>
  JSON.stringify(entry).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

function cap(s: string): string
function cap(s: string | null): string | null
function cap(s: string | null): string | null {
  if (s === null || s.length <= AUDIT_LIMITS.fieldChars) return s
  const chars = [...s]
  return chars.length <= AUDIT_LIMITS.fieldChars ? s : `${chars.slice(0, AUDIT_LIMITS.fieldChars - 1).join('')}…`
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
}

async function rotateIfFull(home: string, incoming: number, fileBytes: number, keepFiles: number): Promise<void> {
  const path = auditPath(home)
  const full = async () => {
    const size = await sizeOf(path)
    return size > 0 && size + incoming > fileBytes
  }
  if (!(await full())) return
  try {
    await withFileLock(path, async () => {
      if (!(await full())) return // another process rotated first
      await rotateLines(path, keepFiles, (n) => rotatedPath(home, n))
      // Files beyond keepFiles, left from a larger setting.
      for (const name of await readdir(home)) {
        const m = ROTATED.exec(name)
        if (m && Number(m[1]) > keepFiles) await rm(join(home, name), { force: true })
      }
    })
  } catch (err) {
    // A busy lock must not stop auditing: write this line to the full file and rotate next time.
    if (!isHandoffError(err, 'STATE_LOCKED')) throw err
  }
}

/**
 * Whether the audit log can be written, for `handoff status`: a failure seen
 * by appendAudit in this process, or a probe that works from any process
 * (audit.jsonl not a writable file, folder not writable, disk nearly full).
 */
export async function auditHealth(home: string): Promise<AuditHealth> {
  const seen = failures.get(resolve(home))
  if (seen) return { ok: false, ...seen }
  const since = new Date().toISOString()
  const path = auditPath(home)
  try {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    if (info && !info.isFile()) return { ok: false, reason: `${path} is not a file; move it away`, since }
    if (info) await (await openStateFile(path, 'append')).close()
    else await access(home, constants.W_OK)
    const fs = await statfs(home)
    const free = fs.bavail * fs.bsize
    if (free < AUDIT_LIMITS.minFreeBytes) {
      return { ok: false, reason: `only ${free} bytes free on the disk holding ${home}; free some space`, since }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown'
    if (code === 'ENOENT') return { ok: true } // no HANDOFF_HOME yet: appendAudit creates it
    return { ok: false, reason: `cannot write ${path} (${code}): ${hint(code, path)}`, since }
  }
  return { ok: true }
}

export interface AuditQuery {
  /** Only entries whose deviceId or deviceName is exactly this. */
  device?: string
  /** Only the newest this many (after filtering). */
  limit?: number
}

/**
 * Reads audit entries across audit.jsonl and its rotations, oldest first,
 * newest last. Lines that are not valid entries are skipped and counted.
 * Rotation while reading may repeat or miss a few lines; it is a log, not a ledger.
 */
export async function readAudit(home: string, query: AuditQuery = {}): Promise<{ entries: AuditEntry[]; skipped: number }> {
  let names: string[]
  try {
    names = await readdir(home)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: 0 }
    throw err
  }
  // Newest first, so a limit stops reading early.
  const rotated = names
    .map((name) => ({ name, n: Number(ROTATED.exec(name)?.[1] ?? 0) }))
    .filter((f) => f.n > 0)
    .sort((a, b) => a.n - b.n)
    .map((f) => f.name)
  const files = [...(names.includes(AUDIT_FILE) ? [AUDIT_FILE] : []), ...rotated]
  const limit = query.limit ?? Infinity
  const newestFirst: AuditEntry[] = []
  let skipped = 0
  for (const name of files) {
    if (newestFirst.length >= limit) break
    const content = await readStateFile(join(home, name))
    if (content === undefined) continue // rotated away meanwhile
    const lines = content.split('\n')
    for (let i = lines.length - 1; i >= 0 && newestFirst.length < limit; i--) {
      const line = lines[i]!
      if (line.trim() === '') continue
      let parsed
      try {
        parsed = v.safeParse(EntrySchema, JSON.parse(line))
      } catch {
        skipped++
        continue
      }
      if (!parsed.success) {
        skipped++
        continue
      }
      const e = parsed.output
      if (query.device !== undefined && e.deviceId !== query.device && e.deviceName !== query.device) continue
      newestFirst.push(e)
    }
  }
  return { entries: newestFirst.reverse(), skipped }
}
