import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AUDIT_LIMITS, appendAudit, auditHealth, readAudit, type AuditInput } from './audit.js'
import { compileStore, runChild, tempHome } from './fixtures/harness.mjs'

let home: string
let remove: () => void
let storeUrl: string
beforeAll(async () => {
  storeUrl = await compileStore()
})
beforeEach(() => ({ home, remove } = tempHome()))
afterEach(() => remove())

const entry = (overrides: Partial<AuditInput> = {}): AuditInput => ({
  deviceId: 'dev1',
  deviceName: 'Pixel',
  action: 'attach',
  target: 'main',
  result: 'allow',
  reason: null,
  peer: '100.101.102.103',
  node: 'pixel.tail1234.ts.net',
  ...overrides,
})
const file = () => join(home, 'audit.jsonl')
const lines = (path = file()) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '')

describe('appendAudit', () => {
  it('writes one JSON line per entry, 0600 in a 0700 folder, with an ISO UTC time', async () => {
    const written = await appendAudit(home, entry({ ts: Date.UTC(2030, 0, 2, 3, 4, 5, 6) }))
    await appendAudit(home, entry({ result: 'deny', reason: 'DEVICE_REVOKED' }))
    expect(written.ts).toBe('2030-01-02T03:04:05.006Z')
    expect(statSync(home).mode & 0o777).toBe(0o700)
    expect(statSync(file()).mode & 0o777).toBe(0o600)
    const [first, second] = lines().map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(Object.keys(first!).sort()).toEqual(['action', 'deviceId', 'deviceName', 'node', 'peer', 'reason', 'result', 'target', 'ts'])
    expect(second).toMatchObject({ result: 'deny', reason: 'DEVICE_REVOKED' })
    expect(second!.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('cannot be made to forge a line by a name or target', async () => {
    const forged = 'x\n{"result":"allow"}'
    await appendAudit(home, entry({ deviceName: forged, target: 'a\r\n\u2028\u2029\u009b[2J\u001b]0;t\u0007', result: 'deny' }))
    const raw = readFileSync(file(), 'utf8')
    expect(raw.split('\n')).toHaveLength(2) // one line and the final newline
    expect(raw).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/)
    const { entries, skipped } = await readAudit(home)
    expect(skipped).toBe(0)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ deviceName: forged, result: 'deny', target: 'a\r\n\u2028\u2029\u009b[2J\u001b]0;t\u0007' })
  })

  it('refuses unknown fields (no place for a cookie or token) and writes nothing', async () => {
    const withCookie = { ...entry(), cookie: '__Host-handoff=secret' } as AuditInput
    await expect(appendAudit(home, withCookie)).rejects.toMatchObject({ code: 'INTERNAL' })
    await expect(appendAudit(home, { ...entry(), result: 'maybe' as 'allow' })).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(existsSync(file())).toBe(false)
  })

  it('caps each string field at fieldChars code points', async () => {
    const atLimit = 'é'.repeat(AUDIT_LIMITS.fieldChars)
    const over = '😀'.repeat(AUDIT_LIMITS.fieldChars + 1)
    const written = await appendAudit(home, entry({ target: atLimit, reason: over }))
    expect(written.target).toBe(atLimit)
    expect([...written.reason!]).toHaveLength(AUDIT_LIMITS.fieldChars)
    expect(written.reason!.endsWith('😀…')).toBe(true)
  })

  it('rotates before a line would pass fileBytes, keeping keepFiles old files', async () => {
    const options = { fileBytes: 1_000, keepFiles: 3 }
    for (let i = 0; i < 60; i++) await appendAudit(home, entry({ target: String(i) }), options)
    const names = readdirSync(home).filter((n) => n.startsWith('audit')).sort()
    expect(names).toEqual(['audit.1.jsonl', 'audit.2.jsonl', 'audit.3.jsonl', 'audit.jsonl'])
    for (const n of names) expect(statSync(join(home, n)).size).toBeLessThanOrEqual(1_000)
    for (const n of names) expect(statSync(join(home, n)).mode & 0o777).toBe(0o600)
    const { entries } = await readAudit(home)
    const targets = entries.map((e) => Number(e.target))
    // The newest entries, in order, ending with the last one written.
    expect(targets.at(-1)).toBe(59)
    expect(targets).toEqual(targets.map((_, k) => 60 - targets.length + k))
    expect(targets.length).toBe(names.reduce((n, name) => n + lines(join(home, name)).length, 0))
    expect(targets.length).toBeGreaterThanOrEqual(16) // four files of about five lines each
    // Lowering keepFiles removes the files beyond it at the next rotation.
    for (let i = 60; i < 80; i++) await appendAudit(home, entry({ target: String(i) }), { fileBytes: 1_000, keepFiles: 1 })
    expect(readdirSync(home).filter((n) => n.startsWith('audit')).sort()).toEqual(['audit.1.jsonl', 'audit.jsonl'])
  })

  it('never interleaves or loses lines when four processes and this one append and rotate at once', async () => {
    const options = { fileBytes: 20_000, keepFiles: 100 }
    const children = ['c1', 'c2', 'c3', 'c4'].map((p) => runChild(storeUrl, 'append-audit', home, p, 150, options.fileBytes, options.keepFiles))
    for (let i = 0; i < 150; i++) await appendAudit(home, entry({ deviceId: 'me', target: String(i) }), options)
    await Promise.all(children.map((c) => c.done))
    const { entries, skipped } = await readAudit(home)
    expect(skipped).toBe(0)
    expect(entries).toHaveLength(750)
    for (const who of ['c1', 'c2', 'c3', 'c4', 'me']) {
      const mine = entries.filter((e) => e.deviceId === who).map((e) => Number(e.target))
      expect(mine).toEqual(Array.from({ length: 150 }, (_, i) => i)) // all there, and in order per writer
    }
    expect(readdirSync(home).filter((n) => n.startsWith('audit.')).length).toBeGreaterThan(3)
  }, 60_000)

  it('throws AUDIT_UNAVAILABLE when the log cannot be written, auditHealth says why, and recovers', async () => {
    await appendAudit(home, entry())
    expect(await auditHealth(home)).toEqual({ ok: true })
    rmSync(file())
    mkdirSync(file()) // root ignores modes, so make the log a folder instead
    const err = await appendAudit(home, entry()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'AUDIT_UNAVAILABLE', status: 503 })
    expect((err as Error).message).toContain(file())
    const health = await auditHealth(home)
    expect(health.ok).toBe(false)
    expect(health.ok === false && health.reason).toContain('EISDIR')
    rmSync(file(), { recursive: true })
    await appendAudit(home, entry({ target: 'after' }))
    expect(await auditHealth(home)).toEqual({ ok: true })
    expect((await readAudit(home)).entries.at(-1)?.target).toBe('after')
  })

  it('auditHealth probes the file from any process, without a failure seen here', async () => {
    mkdirSync(file(), { recursive: true })
    const health = await auditHealth(home)
    expect(health).toMatchObject({ ok: false })
    expect(health.ok === false && health.reason).toContain('not a file')
    expect(await auditHealth(join(home, 'does-not-exist'))).toEqual({ ok: true })
  })
})

describe('readAudit', () => {
  it('filters by device id or name, keeps the newest `limit`, and counts malformed lines', async () => {
    for (let i = 0; i < 5; i++) await appendAudit(home, entry({ deviceId: 'a', deviceName: 'Pixel', target: String(i) }))
    for (let i = 0; i < 3; i++) await appendAudit(home, entry({ deviceId: 'b', deviceName: 'iPad', target: String(i) }))
    appendFileSync(file(), 'not json\n{"ts":"x","extra":true}\n\n{"half":')
    appendFileSync(file(), '\n')
    await appendAudit(home, entry({ deviceId: 'a', deviceName: 'Pixel', target: 'last' }))
    const all = await readAudit(home)
    expect(all.entries).toHaveLength(9)
    expect(all.skipped).toBe(3)
    expect((await readAudit(home, { device: 'iPad' })).entries.map((e) => e.target)).toEqual(['0', '1', '2'])
    expect((await readAudit(home, { device: 'a', limit: 2 })).entries.map((e) => e.target)).toEqual(['4', 'last'])
    expect(await readAudit(join(home, 'nothing-here'))).toEqual({ entries: [], skipped: 0 })
  })

  it('reads rotated files oldest first', async () => {
    mkdirSync(home, { mode: 0o700 })
    const line = (t: string) => `${JSON.stringify({ ts: 't', deviceId: null, deviceName: null, action: 'list', target: t, result: 'allow', reason: null, peer: null, node: null })}\n`
    writeFileSync(join(home, 'audit.2.jsonl'), line('oldest'))
    writeFileSync(join(home, 'audit.10.jsonl'), line('older than all'))
    writeFileSync(join(home, 'audit.1.jsonl'), line('middle'))
    writeFileSync(file(), line('newest'))
    expect((await readAudit(home)).entries.map((e) => e.target)).toEqual(['older than all', 'oldest', 'middle', 'newest'])
  })
})
