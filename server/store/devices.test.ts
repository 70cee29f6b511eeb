import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  DEVICE_LIMITS,
  findDeviceByName,
  newDeviceId,
  readDevices,
  sanitizeDeviceName,
  updateDevices,
  watchDevices,
  type DeviceRecord,
} from './devices.js'
import { compileStore, makeDevice, runChild, tempHome } from './fixtures/harness.mjs'

let home: string
let remove: () => void
let storeUrl: string
beforeAll(async () => {
  storeUrl = await compileStore()
})
beforeEach(() => ({ home, remove } = tempHome()))
afterEach(() => remove())

const device = (name: string, overrides: Partial<DeviceRecord> = {}): DeviceRecord => makeDevice(newDeviceId, name, overrides)
const file = () => join(home, 'devices.json')

describe('readDevices and updateDevices', () => {
  it('reads a missing file as no devices', async () => {
    expect(await readDevices(home)).toEqual([])
  })

  it('creates the folder 0700 and devices.json 0600, and round-trips records', async () => {
    const phone = device('Pixel', {
      status: 'pending',
      sessions: 'main,work-*',
      readOnly: true,
      expiresAt: 1_900_000_000_000,
      credential: { id: 'abc_-1', publicKey: 'pQECAyYgASFY', counter: 0, transports: ['internal', 'hybrid'] },
      tailnetUser: 'me@example.com',
      tailnetNode: 'pixel',
      generation: 3,
      nameFromUser: true,
      pairing: { secretHash: 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg', expiresAt: 1_900_000_300_000, state: 'waiting', challenge: 'Y2hhbGxlbmdl' },
    })
    const written = await updateDevices(home, (ds) => [...ds, phone])
    expect(written).toEqual([phone])
    expect(statSync(home).mode & 0o777).toBe(0o700)
    expect(statSync(file()).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({ version: 1, devices: [phone] })
    expect(await readDevices(home)).toEqual([phone])
    expect(existsSync(`${file()}.lock`)).toBe(false)
  })

  it('reads records written before generation, suspect and pairing existed, with their defaults', async () => {
    mkdirSync(home, { mode: 0o700 })
    const { generation: _g, suspect: _s, pairing: _p, ...old } = device('old')
    writeFileSync(file(), JSON.stringify({ version: 1, devices: [old] }), { mode: 0o600 })
    expect(await readDevices(home)).toEqual([{ ...old, generation: 0, suspect: false, pairing: null }])
  })

  it('gives change a copy, so mutating it in place and throwing writes nothing', async () => {
    await updateDevices(home, () => [device('a')])
    const before = readFileSync(file(), 'utf8')
    await expect(
      updateDevices(home, (ds) => {
        ds[0]!.name = 'changed'
        throw new Error('no')
      }),
    ).rejects.toThrow('no')
    expect(readFileSync(file(), 'utf8')).toBe(before)
  })

  it('reports a corrupt file as BAD_STATE and leaves it byte-for-byte untouched', async () => {
    mkdirSync(home, { mode: 0o700 })
    const garbage = Buffer.from('{"version":1,"devices":[{"id":\x00\xff trailing')
    writeFileSync(file(), garbage, { mode: 0o600 })
    const err = await readDevices(home).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BAD_STATE', status: 500 })
    expect((err as Error).message).toContain(file())
    expect((err as Error).message).toContain('untouched')
    await expect(updateDevices(home, () => [device('new')])).rejects.toMatchObject({ code: 'BAD_STATE' })
    expect(readFileSync(file()).equals(garbage)).toBe(true)
  })

  const shapes: [string, unknown][] = [
    ['not an object', []],
    ['another version', { version: 2, devices: [] }],
    ['no devices', { version: 1 }],
    ['an unknown top-level field', { version: 1, devices: [], extra: 1 }],
    ['an unknown record field', { version: 1, devices: [{ ...device('a'), token: 'x' }] }],
    ['a missing record field', { version: 1, devices: [(({ sessions: _s, ...rest }) => rest)(device('a'))] }],
    ['a bad status', { version: 1, devices: [device('a', { status: 'admin' as never })] }],
    ['a short id', { version: 1, devices: [device('a', { id: 'abc' })] }],
    ['an unsanitized name', { version: 1, devices: [device('a\nb')] }],
    ['an empty name', { version: 1, devices: [{ ...device('a'), name: '' }] }],
    ['a fractional time', { version: 1, devices: [device('a', { createdAt: 1.5 })] }],
    ['a string readOnly', { version: 1, devices: [{ ...device('a'), readOnly: 'no' }] }],
    ['a credential that is not base64url', { version: 1, devices: [device('a', { credential: { id: 'a+b/', publicKey: 'x', counter: 0, transports: [] } })] }],
    ['a bad pairing state', { version: 1, devices: [device('a', { pairing: { secretHash: 'x', expiresAt: 1, state: 'done' as never, challenge: null } })] }],
    ['a negative generation', { version: 1, devices: [device('a', { generation: -1 })] }],
    ['duplicate ids', (() => { const d = device('a'); return { version: 1, devices: [d, { ...d, name: 'b' }] } })()],
  ]
  it.each(shapes)('rejects a file with %s as BAD_STATE, untouched', async (_what, content) => {
    mkdirSync(home, { mode: 0o700 })
    const text = JSON.stringify(content)
    writeFileSync(file(), text, { mode: 0o600 })
    await expect(readDevices(home)).rejects.toMatchObject({ code: 'BAD_STATE' })
    await expect(updateDevices(home, (ds) => ds)).rejects.toMatchObject({ code: 'BAD_STATE' })
    expect(readFileSync(file(), 'utf8')).toBe(text)
  })

  it('refuses to write an invalid record and leaves the file as it was', async () => {
    await updateDevices(home, () => [device('a')])
    const before = readFileSync(file(), 'utf8')
    await expect(updateDevices(home, (ds) => [...ds, device('bad\u0007name')])).rejects.toMatchObject({ code: 'INTERNAL' })
    await expect(updateDevices(home, (ds) => [...ds, ds[0]!])).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(readFileSync(file(), 'utf8')).toBe(before)
  })

  it('never lets a reader see a partial file while another process rewrites it', async () => {
    await updateDevices(home, () => [device('start')])
    const writer = runChild(storeUrl, 'rewrite-devices', home, 40)
    let finished = false
    void writer.done.finally(() => (finished = true)).catch(() => {})
    let reads = 0
    while (!finished) {
      const ds = await readDevices(home) // throws BAD_STATE on a torn read
      expect(ds.length).toBeGreaterThan(0)
      reads++
    }
    await writer.done
    expect(reads).toBeGreaterThan(5)
    expect((await readDevices(home)).length).toBe(50 + (39 % 7) * 20)
  })

  it('loses nothing when four processes and this one add devices at the same moment', async () => {
    const children = ['p1', 'p2', 'p3', 'p4'].map((prefix) => runChild(storeUrl, 'add-devices', home, prefix, 25))
    for (let i = 0; i < 25; i++) await updateDevices(home, (ds) => [...ds, device(`me-${i}`)])
    await Promise.all(children.map((c) => c.done))
    const names = (await readDevices(home)).map((d) => d.name)
    expect(names).toHaveLength(125)
    for (const prefix of ['p1', 'p2', 'p3', 'p4', 'me']) {
      for (let i = 0; i < 25; i++) expect(names).toContain(`${prefix}-${i}`)
    }
    expect(existsSync(`${file()}.lock`)).toBe(false)
  }, 60_000)
})

describe('sanitizeDeviceName', () => {
  it('strips control characters, line separators and bidi overrides', () => {
    expect(sanitizeDeviceName('a\u0000b\u001b[31mc\u007f\u0085d\u009b')).toBe('ab[31mcd')
    expect(sanitizeDeviceName('my\nphone\r\t')).toBe('myphone')
    expect(sanitizeDeviceName('evil\u202Egnp.exe')).toBe('evilgnp.exe')
    expect(sanitizeDeviceName('x\u2028y\u2029z')).toBe('xyz')
  })

  it('trims, and keeps unicode (NFC)', () => {
    expect(sanitizeDeviceName('  Téléphone de Zoë 📱  ')).toBe('Téléphone de Zoë 📱')
    expect(sanitizeDeviceName('Zoe\u0308')).toBe('Zoë')
    expect(sanitizeDeviceName('手机')).toBe('手机')
    expect(sanitizeDeviceName('\u0000\n ')).toBe('')
  })

  it('caps at 64 characters without cutting a character or an emoji sequence', () => {
    expect(sanitizeDeviceName('a'.repeat(64))).toBe('a'.repeat(64))
    expect(sanitizeDeviceName('a'.repeat(65))).toBe('a'.repeat(DEVICE_LIMITS.nameChars))
    const astral = sanitizeDeviceName('😀'.repeat(70))
    expect([...astral]).toHaveLength(64)
    expect(astral).toBe('😀'.repeat(64))
    // A family emoji is 5 code points; the one that would cross 64 is dropped whole.
    const family = '👨\u200D👩\u200D👧'
    const out = sanitizeDeviceName('a'.repeat(62) + family)
    expect(out).toBe('a'.repeat(62))
    expect(sanitizeDeviceName('a'.repeat(59) + family)).toBe('a'.repeat(59) + family)
    expect(sanitizeDeviceName(`${'a'.repeat(63)} b`)).toBe('a'.repeat(63)) // no trailing space after the cut
  })
})

describe('findDeviceByName', () => {
  const pixel = device('Pixel')
  const ipad1 = device('iPad')
  const ipad2 = device('iPad', { status: 'revoked' })
  const all = [pixel, ipad1, ipad2]

  it('finds one by name, by id, and ignoring case when nothing matches exactly', () => {
    expect(findDeviceByName(all, 'Pixel')).toBe(pixel)
    expect(findDeviceByName(all, pixel.id)).toBe(pixel)
    expect(findDeviceByName(all, 'pixel')).toBe(pixel)
    expect(findDeviceByName(all, ipad2.id)).toBe(ipad2)
  })

  it('says DEVICE_NOT_FOUND when nothing matches', () => {
    expect(() => findDeviceByName(all, 'Nokia')).toThrow(expect.objectContaining({ code: 'DEVICE_NOT_FOUND', status: 404 }))
    expect(() => findDeviceByName([], 'Nokia')).toThrow(expect.objectContaining({ code: 'DEVICE_NOT_FOUND' }))
  })

  it('says DEVICE_AMBIGUOUS listing the matches when several match', () => {
    let err: unknown
    try {
      findDeviceByName(all, 'ipad')
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'DEVICE_AMBIGUOUS', status: 409 })
    expect((err as Error).message).toContain(ipad1.id)
    expect((err as Error).message).toContain(ipad2.id)
    expect((err as Error).message).not.toContain(pixel.id)
  })
})

describe('watchDevices', () => {
  it('fires within 1 second after another process writes devices.json, and stops when disposed', async () => {
    await updateDevices(home, () => [device('a')])
    let calls = 0
    const stop = watchDevices(home, () => calls++)
    try {
      await new Promise((r) => setTimeout(r, 100)) // let it take its baseline
      expect(calls).toBe(0)
      await runChild(storeUrl, 'add-devices', home, 'other', 1).done
      const written = Date.now()
      await expect.poll(() => calls, { timeout: 1_000, interval: 20 }).toBeGreaterThan(0)
      expect(Date.now() - written).toBeLessThan(1_000)
    } finally {
      stop()
      stop() // harmless twice
    }
    const after = calls
    await updateDevices(home, (ds) => [...ds, device('b')])
    await new Promise((r) => setTimeout(r, 700))
    expect(calls).toBe(after)
  })

  it('falls back to polling when the folder does not exist yet (no fs.watch)', async () => {
    let calls = 0
    const stop = watchDevices(home, () => calls++)
    try {
      await new Promise((r) => setTimeout(r, 100))
      await runChild(storeUrl, 'add-devices', home, 'other', 1).done
      await expect.poll(() => calls, { timeout: 1_000, interval: 20 }).toBeGreaterThan(0)
    } finally {
      stop()
    }
  })
})
