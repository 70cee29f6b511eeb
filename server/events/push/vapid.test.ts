import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isHandoffError } from '../../errors.js'
import { loadVapidKeys, vapidPath, vapidSubject } from './vapid.js'

let home: string
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'handoff-vapid-'))
})
afterEach(() => rm(home, { recursive: true, force: true }))

describe('loadVapidKeys', () => {
  it('creates vapid.json 0600 once and reads the same keys after', async () => {
    const [a, b] = await Promise.all([loadVapidKeys(home), loadVapidKeys(home)])
    expect(a).toEqual(b)
    expect(Buffer.from(a.publicKey, 'base64url')).toHaveLength(65)
    expect(Buffer.from(a.privateKey, 'base64url')).toHaveLength(32)
    expect((await stat(vapidPath(home))).mode & 0o777).toBe(0o600)
    expect(await loadVapidKeys(home)).toEqual(a)
  })

  it.each([
    ['not JSON', '{'],
    ['a wrong shape', '{"version":1}'],
    ['a short key', JSON.stringify({ version: 1, publicKey: 'AA', privateKey: 'AA', topicKey: 'AA', createdAt: 0 })],
  ])('refuses a file with %s, naming it, and leaves it alone', async (_what, text) => {
    await writeFile(vapidPath(home), text, { mode: 0o600 })
    const err = await loadVapidKeys(home).catch((e: unknown) => e)
    expect(isHandoffError(err, 'BAD_CONFIG')).toBe(true)
    expect((err as Error).message).toContain(vapidPath(home))
    expect(await readFile(vapidPath(home), 'utf8')).toBe(text)
  })

  it('refuses a public key that is not the private key’s', async () => {
    const keys = await loadVapidKeys(home)
    const other = await loadVapidKeys(join(home, 'other'))
    const file = JSON.parse(await readFile(vapidPath(home), 'utf8')) as Record<string, unknown>
    await writeFile(vapidPath(home), JSON.stringify({ ...file, publicKey: other.publicKey }))
    expect(isHandoffError(await loadVapidKeys(home).catch((e: unknown) => e), 'BAD_CONFIG')).toBe(true)
    expect(keys.publicKey).not.toBe(other.publicKey)
  })
})

describe('vapidSubject', () => {
  it('uses the https origin, else a mailto address', () => {
    expect(vapidSubject('https://laptop.tail1234.ts.net')).toBe('https://laptop.tail1234.ts.net')
    expect(vapidSubject('http://localhost:8080')).toBe('mailto:handoff@localhost')
  })
})
