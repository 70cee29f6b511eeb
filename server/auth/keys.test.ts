import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isHandoffError } from '../errors.js'
import { loadTokenKey, tokenKeyPath } from './keys.js'

let home: string
beforeEach(() => {
  home = join(mkdtempSync(join(tmpdir(), 'handoff-keys-')), 'home')
})
afterEach(() => rmSync(join(home, '..'), { recursive: true, force: true }))

describe('loadTokenKey', () => {
  it('creates 32 random bytes in token.key, 0600, and reads the same key back', async () => {
    const key = await loadTokenKey(home)
    expect(key).toHaveLength(32)
    expect(statSync(tokenKeyPath(home)).mode & 0o777).toBe(0o600)
    expect(statSync(home).mode & 0o777).toBe(0o700)
    expect(Buffer.from(readFileSync(tokenKeyPath(home), 'utf8').trim(), 'base64url').equals(Buffer.from(key))).toBe(true)
    expect(Buffer.from(await loadTokenKey(home)).equals(Buffer.from(key))).toBe(true)
  })

  it('gives every concurrent caller the same key (never overwritten)', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadTokenKey(home)))
    for (const k of keys) expect(Buffer.from(k).equals(Buffer.from(keys[0] ?? []))).toBe(true)
  })

  it('refuses a malformed key file with BAD_CONFIG naming it, and leaves it alone', async () => {
    await loadTokenKey(home)
    for (const bad of ['not base64!', Buffer.alloc(31).toString('base64url'), Buffer.alloc(33).toString('base64url'), '']) {
      writeFileSync(tokenKeyPath(home), bad)
      const err = await loadTokenKey(home).catch((e: unknown) => e)
      expect(isHandoffError(err, 'BAD_CONFIG'), bad).toBe(true)
      expect((err as Error).message).toContain(tokenKeyPath(home))
      expect(readFileSync(tokenKeyPath(home), 'utf8')).toBe(bad)
    }
  })

  it('tightens a key file someone made readable by others', async () => {
    await loadTokenKey(home)
    chmodSync(tokenKeyPath(home), 0o644)
    await loadTokenKey(home)
    expect(statSync(tokenKeyPath(home)).mode & 0o777).toBe(0o600)
  })
})
