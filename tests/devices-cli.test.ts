import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readAudit, readDevices, type DeviceRecord } from '../server/store/index.js'
import { addSignedInDevice, changeDevice } from './support/device.js'
import { request } from './support/server.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

// The built CLI, run as a user runs it (tests run after "npm run build").
const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))
const HOUR = 60 * 60_000
const DAY = 24 * HOUR

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** One row of `handoff devices --json` (docs/cli.md#devices). */
interface Row {
  id: string
  name: string
  status: string
  sessions: string
  mode: 'read-only' | 'read-write'
  expiresAt: number | null
  lastSeenAt: number | null
  renewalRequested: boolean
  syncedPasskey: boolean
}

let home: string
let removeHome: () => void
let idlePort: number
let tmux: PrivateTmux
const children = new Set<ChildProcess>()

/** A port that was free a moment ago, so "not running" never depends on what else runs on 7438. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HANDOFF_HOME: home, HANDOFF_TMUX_SOCKET: tmux.socket, HANDOFF_PORT: String(idlePort) }
  delete env.TMUX
  delete env.TMUX_PANE
  return env
}

/** Runs `handoff ...args` to completion with an argument array (no shell), stdin not a TTY. */
function handoff(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: cliEnv(), timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr })
    })
    child.stdin?.end()
  })
}

/** Starts a long-running `handoff ...args`; afterEach kills it if the test did not. */
function start(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')))
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child)
      resolve(code)
    }),
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** `handoff serve --local --port 0` (loopback, whatever Tailscale says) in HANDOFF_HOME; resolves with its record once it has written server.json. */
async function serve(): Promise<{ port: number; url: string }> {
  const s = start(['serve', '--local', '--port', '0'])
  const recordPath = join(home, 'server.json')
  await expect.poll(() => existsSync(recordPath) || s.child.exitCode !== null, { timeout: 15_000, interval: 50 }).toBe(true)
  if (!existsSync(recordPath)) throw new Error(`serve exited ${s.child.exitCode}: ${s.stderr()}`)
  return JSON.parse(readFileSync(recordPath, 'utf8')) as { port: number; url: string }
}

/** A user-facing failure: exactly one line on stderr, `handoff: …`, no stack trace. */
function expectCleanError(r: Result, code: number, ...mentions: (string | RegExp)[]): void {
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^handoff: /)
  expect(r.stderr).not.toMatch(/\n\s+at |unexpected error/)
  for (const m of mentions) expect(r.stderr).toMatch(m)
}

const origin = () => `http://localhost:${idlePort}`
const add = (grant: Parameters<typeof addSignedInDevice>[2]) => addSignedInDevice(home, origin(), grant)
const devicesFile = () => join(home, 'devices.json')

async function rows(): Promise<Row[]> {
  const r = await handoff('devices', '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as Row[]
}
const rowNamed = async (name: string): Promise<Row | undefined> => (await rows()).find((r) => r.name === name)
const record = async (id: string): Promise<DeviceRecord | undefined> => (await readDevices(home)).find((d) => d.id === id)

beforeEach(async () => {
  ;({ home, remove: removeHome } = tempHome())
  idlePort = await freePort()
  tmux = new PrivateTmux()
})

afterEach(async () => {
  for (const child of children) {
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
  tmux.kill()
  removeHome()
})

describe('handoff devices', () => {
  it('says how to pair when there are no devices', async () => {
    const r = await handoff('devices')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('No devices. Pair a phone with: handoff pair\n')
    expect(await rows()).toEqual([])
  })

  it('shows each device as a table row and as JSON: status, mode, sessions, expiry, renewal', async () => {
    const now = Date.now()
    const pixel = await add({ name: 'Pixel', expiresAt: now + 3 * DAY })
    const ipad = await add({ name: 'Old iPad', sessions: 'work-*', readOnly: true, expiresAt: now - HOUR })
    await changeDevice(home, ipad.record.id, () => ({ renewalRequestedAt: now - 60_000 }))
    const gone = await add({ name: 'Gone', expiresAt: null })
    await changeDevice(home, gone.record.id, () => ({ status: 'revoked' }))

    const table = await handoff('devices')
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+SESSIONS\s+MODE\s+EXPIRES\s+LAST SEEN\s+RENEWAL$/)
    expect(lines.find((l) => l.startsWith('Pixel'))).toMatch(/^Pixel\s+active\s+\*\s+read-write\s+in 3d\s+never$/)
    expect(lines.find((l) => l.startsWith('Old iPad'))).toMatch(/^Old iPad\s+soft-expired\s+work-\*\s+read-only\s+expired\s+never\s+requested$/)
    expect(lines.find((l) => l.startsWith('Gone'))).toMatch(/^Gone\s+revoked\s+\*\s+read-write\s+never\s+never$/)

    const json = await rows()
    expect(json).toHaveLength(3)
    expect(json.find((r) => r.id === pixel.record.id)).toEqual({
      id: pixel.record.id,
      name: 'Pixel',
      status: 'active',
      sessions: '*',
      mode: 'read-write',
      expiresAt: pixel.record.expiresAt,
      lastSeenAt: null,
      renewalRequested: false,
      syncedPasskey: false,
    })
    expect(json.find((r) => r.id === ipad.record.id)).toMatchObject({ status: 'soft-expired', sessions: 'work-*', mode: 'read-only', renewalRequested: true })
    expect(json.find((r) => r.id === gone.record.id)).toMatchObject({ status: 'revoked', expiresAt: null })
  })

  it('edit changes sessions, mode, expiry and name; the JSON shows it and the device is signed out', async () => {
    const pixel = await add({ name: 'Pixel' })
    const edited = await handoff('devices', 'edit', 'Pixel', '--sessions', 'work-*, main', '--read-only', '--json')
    expect(edited.code, edited.stderr).toBe(0)
    expect(JSON.parse(edited.stdout)).toMatchObject({ name: 'Pixel', sessions: 'work-*,main', mode: 'read-only' })
    expect(await rowNamed('Pixel')).toMatchObject({ sessions: 'work-*,main', mode: 'read-only' })
    // Its old tokens carry the old generation, so they stop working.
    expect((await record(pixel.record.id))?.generation).toBeGreaterThan(pixel.record.generation)

    const before = Date.now()
    const week = await handoff('devices', 'edit', 'pixel', '--expires', '7d')
    expect(week.code, week.stderr).toBe(0)
    expect(week.stdout).toBe('Updated "Pixel": sessions work-*,main, read-only, expires in 7d.\n')
    const expiresAt = (await rowNamed('Pixel'))?.expiresAt ?? 0
    expect(expiresAt).toBeGreaterThanOrEqual(before + 7 * DAY)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 7 * DAY)

    const renamed = await handoff('devices', 'edit', 'Pixel', '--name', '  Work phone ', '--read-write')
    expect(renamed.code, renamed.stderr).toBe(0)
    expect(await rowNamed('Pixel')).toBeUndefined()
    expect(await rowNamed('Work phone')).toMatchObject({ id: pixel.record.id, mode: 'read-write', sessions: 'work-*,main' })

    const never = await handoff('devices', 'edit', 'Work phone', '--expires', 'never', '--json')
    expect(JSON.parse(never.stdout)).toMatchObject({ expiresAt: null })
  })

  it('rm and revoke revoke a device; unpair --yes revokes every one', async () => {
    const a = await add({ name: 'Phone A' })
    const b = await add({ name: 'Phone B' })
    const c = await add({ name: 'Phone C' })
    const rm = await handoff('devices', 'rm', 'Phone A')
    expect(rm.code, rm.stderr).toBe(0)
    expect(rm.stdout).toBe('Revoked "Phone A": its open terminals close within a second.\n')
    const revoke = await handoff('revoke', 'Phone B', '--json')
    expect(revoke.code, revoke.stderr).toBe(0)
    expect(JSON.parse(revoke.stdout)).toMatchObject({ id: b.record.id, status: 'revoked' })
    expect((await rows()).map((r) => [r.name, r.status])).toEqual([
      ['Phone A', 'revoked'],
      ['Phone B', 'revoked'],
      ['Phone C', 'active'],
    ])
    expect((await record(a.record.id))?.generation).toBeGreaterThan(a.record.generation)

    // Without a TTY to ask on and without --yes, nothing changes.
    const unsure = await handoff('unpair')
    expectCleanError(unsure, 2, /--yes/)
    expect((await record(c.record.id))?.status).toBe('active')

    await add({ name: 'Phone D' })
    const all = await handoff('unpair', '--yes')
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout).toBe('Revoked 2 device(s).\n')
    expect((await rows()).every((r) => r.status === 'revoked')).toBe(true)
    expect((await handoff('unpair', '--yes')).stdout).toBe('No devices to unpair.\n')
  })

  it('renew extends an expired device and clears its renewal request', async () => {
    const now = Date.now()
    const ipad = await add({ name: 'iPad', expiresAt: now - 2 * HOUR })
    await changeDevice(home, ipad.record.id, () => ({ renewalRequestedAt: now - HOUR }))
    expect(await rowNamed('iPad')).toMatchObject({ status: 'soft-expired', renewalRequested: true })

    const r = await handoff('renew', 'iPad')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('Renewed "iPad": expires in 30d.\n')
    const row = await rowNamed('iPad')
    expect(row).toMatchObject({ status: 'active', renewalRequested: false })
    expect(row?.expiresAt).toBeGreaterThanOrEqual(now + 30 * DAY)

    const forever = await handoff('devices', 'renew', 'iPad', '--expires', 'never', '--json')
    expect(forever.code, forever.stderr).toBe(0)
    expect(JSON.parse(forever.stdout)).toMatchObject({ status: 'active', expiresAt: null })

    // A revoked device stays revoked: renewing it is refused, not silently "renewed".
    await handoff('revoke', 'iPad')
    const revoked = await handoff('renew', 'iPad')
    expectCleanError(revoked, 1, /revoked/, /handoff pair/)
    expect(await rowNamed('iPad')).toMatchObject({ status: 'revoked' })
  })

  it('devices log and logs NAME show the audit entries of changes', async () => {
    const pixel = await add({ name: 'Pixel' })
    await add({ name: 'iPad' })
    expect((await handoff('devices', 'edit', 'Pixel', '--read-only')).code).toBe(0)
    expect((await handoff('renew', 'iPad')).code).toBe(0)
    expect((await handoff('revoke', 'Pixel')).code).toBe(0)

    const all = await handoff('devices', 'log')
    expect(all.code, all.stderr).toBe(0)
    const lines = all.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z\s+allow\s+Pixel\s+edit\s+/)
    expect(lines[1]).toMatch(/\s+allow\s+iPad\s+renew\s+/)
    expect(lines[2]).toMatch(/\s+allow\s+Pixel\s+revoke\s+/)
    expect(all.stdout).toContain('(by the owner (CLI))')

    const mine = await handoff('logs', 'Pixel', '--json')
    expect(mine.code, mine.stderr).toBe(0)
    const entries = mine.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { deviceId: string; action: string; result: string })
    expect(entries.map((e) => e.action)).toEqual(['edit', 'revoke'])
    expect(entries.every((e) => e.deviceId === pixel.record.id && e.result === 'allow')).toBe(true)

    const last = await handoff('devices', 'log', '--limit', '1')
    expect(last.stdout.trimEnd().split('\n')).toEqual([lines[2]])
    // What the CLI shows is what is on disk.
    expect((await readAudit(home, {})).entries).toHaveLength(3)
  })
})

describe('handoff devices: bad input', () => {
  it('refuses each bad flag with one line naming it, exit 2, and changes nothing', async () => {
    await add({ name: 'Pixel' })
    const before = readFileSync(devicesFile())
    const cases: [string[], RegExp][] = [
      [['devices', 'edit', 'Pixel', '--expires', '0d'], /--expires .*"0d"/],
      [['devices', 'edit', 'Pixel', '--expires', 'soon'], /--expires .*"soon"/],
      [['devices', 'edit', 'Pixel', '--expires', '400d'], /--expires .*up to 365d.*"400d"/],
      [['renew', 'Pixel', '--expires', 'soon'], /--expires .*"soon"/],
      [['devices', 'edit', 'Pixel', '--sessions', 'a[b'], /--sessions: .*"a\[b".*only \* and \?/],
      [['devices', 'edit', 'Pixel', '--sessions', ''], /--sessions: no session patterns given/],
      [['devices', 'edit', 'Pixel', '--sessions', 'main,,work'], /--sessions: .*empty/],
      [['devices', 'edit', 'Pixel', '--read-only', '--read-write'], /--read-only or --read-write, not both/],
      [['devices', 'edit', 'Pixel', '--name', '\u0001\u001b\u007f\t'], /--name must have at least one visible character/],
      [['devices', 'edit', 'Pixel'], /nothing to change/],
      [['devices', 'log', '--limit', 'abc'], /--limit must be a whole number 1-100000, got "abc"/],
      [['logs', '--limit', '0'], /--limit must be a whole number/],
    ]
    for (const [args, mention] of cases) {
      const r = await handoff(...args)
      expectCleanError(r, 2, mention)
      expect(readFileSync(devicesFile()).equals(before), `${args.join(' ')} changed devices.json`).toBe(true)
    }
    // None of these reached the audit log either.
    expect((await readAudit(home, {})).entries).toEqual([])
  })

  it('an unknown name is DEVICE_NOT_FOUND and says how to list devices', async () => {
    await add({ name: 'Pixel' })
    for (const args of [['devices', 'edit', 'Nope', '--read-only'], ['devices', 'rm', 'Nope'], ['revoke', 'Nope'], ['renew', 'Nope'], ['logs', 'Nope']]) {
      expectCleanError(await handoff(...args), 1, /no device named "Nope"\. List devices with: handoff devices/)
    }
    expect((await rowNamed('Pixel'))?.status).toBe('active')
  })

  it('two devices with one name: lists both with their ids, says to use the id, and the id works', async () => {
    const a = await add({ name: 'Phone' })
    const b = await add({ name: 'Phone' })
    for (const args of [['revoke', 'Phone'], ['devices', 'edit', 'phone', '--read-only'], ['renew', 'Phone']]) {
      const r = await handoff(...args)
      expectCleanError(r, 1, /2 devices are named "Phone"/i, /by its id/)
      expect(r.stderr).toContain(a.record.id)
      expect(r.stderr).toContain(b.record.id)
    }
    expect((await rows()).every((r) => r.status === 'active' && r.mode === 'read-write')).toBe(true)
    const byId = await handoff('revoke', b.record.id)
    expect(byId.code, byId.stderr).toBe(0)
    expect((await record(a.record.id))?.status).toBe('active')
    expect((await record(b.record.id))?.status).toBe('revoked')
  })

  it('a corrupt devices.json is a clear BAD_STATE naming the file, and is left byte-for-byte as it was', async () => {
    writeFileSync(devicesFile(), '{not json', { mode: 0o600 })
    const before = readFileSync(devicesFile())
    for (const args of [
      ['devices'],
      ['devices', '--json'],
      ['devices', 'edit', 'Pixel', '--read-only'],
      ['revoke', 'Pixel'],
      ['renew', 'Pixel'],
      ['unpair', '--yes'],
      ['logs', 'Pixel'],
    ]) {
      const r = await handoff(...args)
      expectCleanError(r, 1, 'not valid JSON', 'left untouched', 'move it aside')
      expect(r.stderr).toContain(devicesFile())
      expect(readFileSync(devicesFile()).equals(before), `${args.join(' ')} changed devices.json`).toBe(true)
    }
  })
})

describe('handoff pair', () => {
  it('exits 3 with what to run when no server is running, and leaves no device behind', async () => {
    const r = await handoff('pair', '--sessions', 'main', '--expires', '1d')
    expectCleanError(r, 3, /not running/, /Start it with: handoff serve/)
    expect(await readDevices(home)).toEqual([])
  })

  it('refuses bad grant flags with exit 2, before anything is created', async () => {
    await serve()
    const bad = await handoff('pair', '--sessions', 'a[b')
    expectCleanError(bad, 2, /--sessions: .*"a\[b"/)
    expectCleanError(await handoff('pair', '--expires', '400d'), 2, /--expires/)
    expectCleanError(await handoff('pair', '--name', '\u0007'), 2, /--name/)
    expect(await readDevices(home)).toEqual([])
  })

  it('shows the link with the secret in the fragment, stores only its hash, and Ctrl-C exits 130 leaving nothing', async () => {
    const { url } = await serve()
    const p = start(['pair', '--sessions', 'work-*', '--read-only', '--expires', '7d', '--name', 'Pixel'])
    await expect.poll(() => /\/pair#([A-Za-z0-9_-]+)/.test(p.stdout()), { timeout: 15_000, interval: 50 }).toBe(true)
    const secret = /\/pair#([A-Za-z0-9_-]+)/.exec(p.stdout())?.[1] ?? ''
    expect(secret.length).toBeGreaterThanOrEqual(22) // at least 128 bits
    expect(p.stdout()).toContain(`${url}/pair#${secret}`)
    expect(p.stdout()).toContain('Grant: sessions work-*, read-only, expires in 7d.')
    const pending = await readDevices(home)
    expect(pending).toMatchObject([{ name: 'Pixel', status: 'pending', sessions: 'work-*', readOnly: true, pairing: { state: 'waiting' } }])
    expect(readFileSync(devicesFile(), 'utf8')).not.toContain(secret)

    p.child.kill('SIGINT')
    expect(await p.exited).toBe(130)
    expect(p.stderr()).toMatch(/^handoff: pairing cancelled/m)
    expect(await readDevices(home)).toEqual([])
  })
})

describe('the CLI and the server write devices.json at the same moment', () => {
  it('loses neither the CLI edits nor the renewal requests the server records', async () => {
    const { port, url: serverOrigin } = await serve()
    // Devices the phones ask renewal for, through the server, while the CLI edits others.
    const phones = []
    for (let i = 0; i < 30; i++) phones.push(await addSignedInDevice(home, serverOrigin, { name: `phone ${i}` }))
    const edited = ['desk 0', 'desk 1', 'desk 2']
    for (const name of edited) await addSignedInDevice(home, serverOrigin, { name })

    let cliDone = false
    const renewed: string[] = []
    const renewals = (async () => {
      for (const phone of phones) {
        if (cliDone && renewed.length >= 5) break
        const r = await request(port, '/api/renew', {
          method: 'POST',
          headers: { origin: serverOrigin, cookie: phone.cookie, 'content-type': 'application/json' },
          body: '{}',
        })
        expect(r.status, r.text).toBe(204)
        renewed.push(phone.record.id)
        await new Promise((resolve) => setTimeout(resolve, 40))
      }
    })()
    // Three CLI processes at a time, each changing its own device three times.
    const ROUNDS = 3
    await Promise.all(
      edited.map(async (name, i) => {
        let current = name
        for (let round = 1; round <= ROUNDS; round++) {
          const next = `${name} r${round}`
          const r = await handoff('devices', 'edit', current, '--name', next, '--sessions', `work-${i}-${round}`)
          expect(r.code, r.stderr).toBe(0)
          current = next
        }
      }),
    )
    cliDone = true
    await renewals

    const after = await readDevices(home)
    expect(renewed.length).toBeGreaterThanOrEqual(5)
    for (const id of renewed) expect(after.find((d) => d.id === id)?.renewalRequestedAt, `renewal of ${id} lost`).not.toBeNull()
    edited.forEach((name, i) => {
      expect(after.find((d) => d.name === `${name} r${ROUNDS}`), `edit of ${name} lost`).toMatchObject({ sessions: `work-${i}-${ROUNDS}` })
    })
    expect(after).toHaveLength(phones.length + edited.length)
    // The audit log has every change from both sides.
    const { entries } = await readAudit(home, { limit: 1000 })
    expect(entries.filter((e) => e.action === 'edit')).toHaveLength(edited.length * ROUNDS)
    expect(entries.filter((e) => e.action === 'renew' && e.result === 'allow')).toHaveLength(renewed.length)
  })
})
