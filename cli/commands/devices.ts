import { confirm } from '@inquirer/prompts'
import { resolveConfig } from '../../server/config.js'
import { deviceState } from '../../server/gate/index.js'
import { grantOf } from '../../server/access/index.js'
import {
  appendAudit,
  findDeviceByName,
  readAudit,
  readDevices,
  sanitizeDeviceName,
  updateDevices,
  type AuditEntry,
  type DeviceRecord,
} from '../../server/store/index.js'
import { describeExpiry, parseExpiry, parseSessionsFlag } from '../grant-flags.js'
import type { CommonFlags } from '../main.js'
import { ago, Exit, fail, render } from '../output.js'
import { forTerminal, forTerminalLines } from '../../server/untrusted.js'

/** One row of `handoff devices`, and its JSON. */
interface DeviceRow {
  id: string
  name: string
  status: 'pending' | 'active' | 'soft-expired' | 'hard-expired' | 'revoked' | 'suspect'
  sessions: string
  mode: 'read-only' | 'read-write'
  expiresAt: number | null
  lastSeenAt: number | null
  renewalRequested: boolean
  syncedPasskey: boolean
}

function rowOf(d: DeviceRecord, now: number): DeviceRow {
  const state = deviceState(grantOf(d), now)
  return {
    id: d.id,
    name: d.name,
    status: d.status !== 'active' ? d.status : d.suspect ? 'suspect' : state === 'unknown' ? 'revoked' : state,
    sessions: d.sessions,
    mode: d.readOnly ? 'read-only' : 'read-write',
    expiresAt: d.expiresAt,
    lastSeenAt: d.lastSeenAt,
    renewalRequested: d.renewalRequestedAt !== null,
    // Synced passkeys (iCloud, Google) always report a signature counter of 0.
    syncedPasskey: d.credential !== null && d.credential.counter === 0,
  }
}

function table(rows: DeviceRow[]): string {
  if (rows.length === 0) return 'No devices. Pair a phone with: handoff pair\n'
  const head = ['NAME', 'STATUS', 'SESSIONS', 'MODE', 'EXPIRES', 'LAST SEEN', 'RENEWAL']
  const body = rows.map((r) => [
    forTerminal(r.name),
    r.status + (r.syncedPasskey ? ' (synced passkey)' : ''),
    forTerminal(r.sessions),
    r.mode,
    describeExpiry(r.expiresAt),
    r.lastSeenAt === null ? 'never' : ago(r.lastSeenAt / 1000),
    r.renewalRequested ? 'requested' : '',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)))
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n'
}

/** `handoff devices`: every paired or pairing device. */
export async function list(flags: CommonFlags): Promise<void> {
  const { home } = resolveConfig(flags)
  const now = Date.now()
  render((await readDevices(home)).map((d) => rowOf(d, now)), flags.json, table)
}

/**
 * Changes one device under the state lock, bumps its generation (its tokens
 * stop working; the server re-checks live terminals within a second), and
 * records who did what in the audit log.
 */
async function change(home: string, nameOrId: string, action: string, edit: (d: DeviceRecord) => DeviceRecord): Promise<DeviceRecord> {
  let changed: DeviceRecord | undefined
  await updateDevices(home, (devices) => {
    const target = findDeviceByName(devices, nameOrId)
    return devices.map((d) => (d.id === target.id ? (changed = { ...edit(d), generation: d.generation + 1 }) : d))
  })
  if (!changed) fail(`no device named ${JSON.stringify(nameOrId)}`)
  await appendAudit(home, {
    deviceId: changed.id,
    deviceName: changed.name,
    action,
    target: changed.id,
    result: 'allow',
    reason: 'by the owner (CLI)',
    peer: 'local',
    node: null,
  })
  return changed
}

export interface EditFlags extends CommonFlags {
  sessions?: string
  readOnly?: boolean
  readWrite?: boolean
  sameNode?: boolean
  anyNode?: boolean
  expires?: string
  name?: string
}

export async function edit(flags: EditFlags, nameOrId: string): Promise<void> {
  const { home } = resolveConfig(flags)
  if (flags.readOnly && flags.readWrite) fail('give --read-only or --read-write, not both', Exit.Usage)
  if (flags.sameNode && flags.anyNode) fail('give --same-node or --any-node, not both', Exit.Usage)
  // An edit bumps the generation, which signs the device out: never do that for nothing.
  if ([flags.sessions, flags.readOnly, flags.readWrite, flags.expires, flags.name, flags.sameNode, flags.anyNode].every((f) => f === undefined)) {
    fail('nothing to change: give --sessions, --read-only, --read-write, --same-node, --any-node, --expires or --name', Exit.Usage)
  }
  const sessions = flags.sessions === undefined ? undefined : parseSessionsFlag(flags.sessions)
  const expiry = flags.expires === undefined ? undefined : parseExpiry(flags.expires)
  const name = flags.name === undefined ? undefined : sanitizeDeviceName(flags.name)
  if (name === '') fail('--name must have at least one visible character', Exit.Usage)
  const now = Date.now()
  const d = await change(home, nameOrId, 'edit', (d) => ({
    ...d,
    ...(sessions === undefined ? {} : { sessions }),
    ...(flags.readOnly ? { readOnly: true } : flags.readWrite ? { readOnly: false } : {}),
    ...(flags.sameNode ? { sameNodeOnly: true } : flags.anyNode ? { sameNodeOnly: false } : {}),
    ...(expiry === undefined ? {} : { expiresAt: expiry === null ? null : now + expiry, renewalRequestedAt: null }),
    ...(name === undefined ? {} : { name }),
  }))
  render(rowOf(d, now), flags.json, (r) => `Updated "${forTerminal(r.name)}": sessions ${forTerminal(r.sessions)}, ${r.mode}, expires ${describeExpiry(r.expiresAt)}.\n`)
}

export async function remove(flags: CommonFlags, nameOrId: string): Promise<void> {
  const { home } = resolveConfig(flags)
  const d = await change(home, nameOrId, 'revoke', (d) => ({ ...d, status: 'revoked', pairing: null }))
  render(rowOf(d, Date.now()), flags.json, (r) => `Revoked "${forTerminal(r.name)}": its open terminals close within a second.\n`)
}

export async function renew(flags: CommonFlags & { expires?: string }, nameOrId: string): Promise<void> {
  const { home } = resolveConfig(flags)
  const now = Date.now()
  const current = findDeviceByName(await readDevices(home), nameOrId)
  // Renewal extends access; it never brings back a revoked device or finishes a pairing.
  if (current.status !== 'active') {
    fail(`${JSON.stringify(current.name)} is ${current.status}, so it cannot be renewed. Pair the phone again with: handoff pair`)
  }
  // Renewal extends by the chosen period, or by 30 days.
  const period = flags.expires === undefined ? 30 * 24 * 60 * 60_000 : parseExpiry(flags.expires)
  const d = await change(home, current.id, 'renew', (d) => ({
    ...d,
    expiresAt: period === null ? null : now + period,
    renewalRequestedAt: null,
  }))
  render(rowOf(d, now), flags.json, (r) => `Renewed "${forTerminal(r.name)}": expires ${describeExpiry(r.expiresAt)}.\n`)
}

export async function unpair(flags: CommonFlags & { yes?: boolean }): Promise<void> {
  const { home } = resolveConfig(flags)
  const active = (await readDevices(home)).filter((d) => d.status !== 'revoked')
  if (active.length === 0) {
    process.stdout.write('No devices to unpair.\n')
    return
  }
  const ok = flags.yes || (process.stdin.isTTY && (await confirm({ message: `Revoke all ${active.length} device(s)?`, default: false })))
  if (!ok) fail('nothing changed (pass --yes to confirm without a prompt)', Exit.Usage)
  for (const d of active) await change(home, d.id, 'revoke', (x) => ({ ...x, status: 'revoked', pairing: null }))
  process.stdout.write(`Revoked ${active.length} device(s).\n`)
}

/** One audit entry as a line: every field came from outside (a request's path, a device's name), so each is escaped. */
const auditLine = (e: AuditEntry) => {
  const t = (s: string | null) => (s === null ? '' : forTerminal(s))
  return `${t(e.ts)}  ${t(e.result).padEnd(5)}  ${t(e.deviceName ?? '-').padEnd(16)}  ${t(e.action).padEnd(14)}  ${t(e.target)}${e.reason ? `  (${t(e.reason)})` : ''}${e.peer ? `  from ${t(e.peer)}` : ''}${e.node ? ` ${t(e.node)}` : ''}${e.controls ? '  [had control characters]' : ''}`
}

export async function log(flags: CommonFlags & { follow?: boolean; limit?: string }, nameOrId?: string): Promise<void> {
  const { home } = resolveConfig(flags)
  const limit = flags.limit === undefined ? 50 : /^\d+$/.test(flags.limit) ? Number(flags.limit) : NaN
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) fail(`--limit must be a whole number 1-100000, got ${JSON.stringify(flags.limit)}`, Exit.Usage)
  const device = nameOrId === undefined ? undefined : findDeviceByName(await readDevices(home), nameOrId)
  const print = (entries: AuditEntry[]) => {
    for (const e of entries) process.stdout.write(flags.json ? `${JSON.stringify(e)}\n` : `${forTerminalLines(auditLine(e))}\n`)
  }
  const { entries } = await readAudit(home, { ...(device ? { device: device.id } : {}), limit })
  print(entries)
  if (!flags.follow) return
  let seen = entries.at(-1)?.ts ?? ''
  for (;;) {
    await new Promise((r) => setTimeout(r, 500))
    const fresh = (await readAudit(home, { ...(device ? { device: device.id } : {}), limit: 1000 })).entries.filter((e) => e.ts > seen)
    if (fresh.length > 0) {
      print(fresh)
      seen = fresh.at(-1)?.ts ?? seen
    }
  }
}
