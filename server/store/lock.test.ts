import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { isHandoffError } from '../errors.js'
import { compileStore, runChild, tempHome } from './fixtures/harness.mjs'
import { lockPathFor, withFileLock } from './lock.js'

let home: string
let remove: () => void
let storeUrl: string
beforeAll(async () => {
  storeUrl = await compileStore()
})
beforeEach(() => {
  ;({ home, remove } = tempHome())
  mkdirSync(home, { mode: 0o700 })
})
afterEach(() => remove())

const writeLock = (path: string, pid: number, ageMs = 0) => {
  const lock = lockPathFor(path)
  writeFileSync(lock, JSON.stringify({ pid, host: hostname(), createdAt: Date.now() - ageMs, token: 'someone-else' }), { mode: 0o600 })
  if (ageMs) utimesSync(lock, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs))
  return lock
}

describe('withFileLock', () => {
  it('holds a 0600 lock file while fn runs and removes it afterwards, also when fn throws', async () => {
    const path = join(home, 'devices.json')
    const seen = await withFileLock(path, () => {
      const info = statSync(lockPathFor(path))
      expect(info.mode & 0o777).toBe(0o600)
      return JSON.parse(readFileSync(lockPathFor(path), 'utf8')) as { pid: number }
    })
    expect(seen.pid).toBe(process.pid)
    expect(existsSync(lockPathFor(path))).toBe(false)
    await expect(withFileLock(path, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(existsSync(lockPathFor(path))).toBe(false)
  })

  it('lets one caller in at a time', async () => {
    const path = join(home, 'x.json')
    let inside = 0
    let most = 0
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(path, async () => {
          most = Math.max(most, ++inside)
          await sleep(3)
          inside--
        }),
      ),
    )
    expect(most).toBe(1)
  })

  it('times out with STATE_LOCKED naming the lock file when a live process holds it', async () => {
    const path = join(home, 'devices.json')
    const lock = writeLock(path, process.ppid) // a live process that is not us
    let ran = false
    const started = Date.now()
    const err = await withFileLock(path, () => (ran = true), { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(isHandoffError(err)).toBe(true)
    expect((err as { code: string }).code).toBe('STATE_LOCKED')
    expect((err as { status: number }).status).toBe(503)
    expect((err as Error).message).toContain(lock)
    expect((err as Error).message).toContain('rm ')
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(ran).toBe(false)
    expect(existsSync(lock)).toBe(true) // a live owner's lock is never removed
  })

  it('takes over a lock whose owner was killed', async () => {
    const path = join(home, 'devices.json')
    const holder = runChild(storeUrl, 'hold-lock', path)
    await expect.poll(() => holder.stdout(), { timeout: 10_000 }).toContain('held')
    holder.child.kill('SIGKILL')
    await holder.done.catch(() => {})
    expect(existsSync(lockPathFor(path))).toBe(true)
    const started = Date.now()
    expect(await withFileLock(path, () => 'mine', { timeoutMs: 2_000 })).toBe('mine')
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('waits for a live child holding the lock, then times out', async () => {
    const path = join(home, 'devices.json')
    const holder = runChild(storeUrl, 'hold-lock', path)
    try {
      await expect.poll(() => holder.stdout(), { timeout: 10_000 }).toContain('held')
      const err = await withFileLock(path, () => 'mine', { timeoutMs: 200 }).catch((e: unknown) => e)
      expect((err as { code: string }).code).toBe('STATE_LOCKED')
      expect((err as Error).message).toContain(`pid ${holder.child.pid}`)
    } finally {
      holder.child.kill('SIGKILL')
      await holder.done.catch(() => {})
    }
  })

  it('takes over a lock untouched for longer than staleMs, even if its pid is alive', async () => {
    const path = join(home, 'devices.json')
    writeLock(path, process.ppid, 60_000)
    expect(await withFileLock(path, () => 'mine', { timeoutMs: 1_000 })).toBe('mine')
  })

  it('takes over an empty lock file (owner died before writing it) once it is stale', async () => {
    const path = join(home, 'devices.json')
    const lock = lockPathFor(path)
    writeFileSync(lock, '')
    await expect(withFileLock(path, () => 'mine', { timeoutMs: 200 })).rejects.toMatchObject({ code: 'STATE_LOCKED' })
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    expect(await withFileLock(path, () => 'mine', { timeoutMs: 1_000 })).toBe('mine')
  })

  it('lets only one of many waiters take over the same stale lock', async () => {
    const path = join(home, 'devices.json')
    writeLock(path, process.ppid, 60_000)
    let inside = 0
    let most = 0
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withFileLock(path, async () => {
          most = Math.max(most, ++inside)
          await sleep(5)
          inside--
        }),
      ),
    )
    expect(most).toBe(1)
    expect(existsSync(lockPathFor(path))).toBe(false)
  })
})
