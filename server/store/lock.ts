import { randomBytes } from 'node:crypto'
import { open, stat, unlink, utimes } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { HandoffError } from '../errors.js'
import { readStateFile } from './files.js'

export const LOCK_LIMITS = {
  timeoutMs: 5_000, // how long to wait for another process before STATE_LOCKED
  staleMs: 30_000, // a lock whose file has not been touched for this long is taken over
  retryMinMs: 5, // first backoff; doubles up to retryMaxMs, with jitter
  retryMaxMs: 100,
} as const

export interface LockOptions {
  timeoutMs?: number
  staleMs?: number
}

/** What a lock file holds: who owns it, since when, and a token only the owner knows. */
export interface LockOwner {
  pid: number
  host: string
  createdAt: number
  token: string
}

/** The lock file that guards `path`: the same name for every process. */
export const lockPathFor = (path: string): string => `${path}.lock`

/**
 * Runs `fn` while holding an exclusive, cross-process lock on `path`
 * (the lock file `path.lock`, created with O_EXCL, mode 0600). Waits with a
 * short backoff up to `timeoutMs`, then throws STATE_LOCKED naming the lock
 * file. A lock whose owner is dead (same host) or that has not been touched
 * for `staleMs` is taken over. The lock is released in `finally`.
 *
 * Not reentrant: calling it again for the same path inside `fn` times out.
 *
 * @example
 * await withFileLock(join(home, 'devices.json'), async () => { ...read, change, write... })
 */
export async function withFileLock<T>(path: string, fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? LOCK_LIMITS.timeoutMs
  const staleMs = options.staleMs ?? LOCK_LIMITS.staleMs
  const lockPath = lockPathFor(path)
  const owner = await acquire(lockPath, timeoutMs, staleMs)
  // Keep the lock fresh while fn runs, so a slow but live holder is never judged stale.
  const heartbeat = setInterval(() => {
    const now = new Date()
    utimes(lockPath, now, now).catch(() => {})
  }, Math.max(1_000, Math.floor(staleMs / 3)))
  heartbeat.unref()
  try {
    return await fn()
  } finally {
    clearInterval(heartbeat)
    await release(lockPath, owner)
  }
}

async function acquire(lockPath: string, timeoutMs: number, staleMs: number): Promise<LockOwner> {
  const owner: LockOwner = { pid: process.pid, host: hostname(), createdAt: Date.now(), token: randomBytes(12).toString('base64url') }
  const deadline = Date.now() + timeoutMs
  let delay: number = LOCK_LIMITS.retryMinMs
  for (;;) {
    if (await tryCreate(lockPath, owner)) return owner
    const seen = await inspect(lockPath)
    if (seen && isStale(seen, staleMs)) {
      await takeOver(lockPath, seen, staleMs)
      continue // try to create at once; O_EXCL still decides who wins
    }
    if (Date.now() >= deadline) throw lockedError(lockPath, seen?.owner)
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())) * (0.5 + Math.random() / 2))
    delay = Math.min(delay * 2, LOCK_LIMITS.retryMaxMs)
  }
}

async function tryCreate(lockPath: string, owner: LockOwner): Promise<boolean> {
  owner.createdAt = Date.now()
  let file
  try {
    file = await open(lockPath, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    await file.writeFile(`${JSON.stringify(owner)}\n`)
  } catch (err) {
    await file.close().catch(() => {})
    await unlink(lockPath).catch(() => {})
    throw err
  }
  await file.close()
  return true
}

interface SeenLock {
  owner: LockOwner | undefined // undefined while its creator has not written it yet, or if it is garbage
  text: string
  mtimeMs: number
}

async function inspect(lockPath: string): Promise<SeenLock | undefined> {
  try {
    const [text, info] = await Promise.all([readStateFile(lockPath), stat(lockPath)])
    if (text === undefined) return undefined
    return { owner: parseOwner(text), text, mtimeMs: info.mtimeMs }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined // released meanwhile
    throw err
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.createdAt === 'number' && typeof o.token === 'string') {
      return o as LockOwner
    }
  } catch {
    // An empty file is a lock whose owner is between open() and write(): not garbage yet.
  }
  return undefined
}

function isStale(seen: SeenLock, staleMs: number): boolean {
  if (Date.now() - seen.mtimeMs > staleMs) return true
  const o = seen.owner
  // A pid only means something on the host that wrote it.
  return o !== undefined && o.host === hostname() && !isAlive(o.pid)
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes a stale lock, but only the one judged stale: two processes taking
 * over at once must not delete the fresh lock the first of them just created.
 * A short-lived second lock file serialises the check-and-remove.
 */
async function takeOver(lockPath: string, seen: SeenLock, staleMs: number): Promise<void> {
  const guard = `${lockPath}.takeover`
  let file
  try {
    file = await open(guard, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    // Someone else is taking over. A guard can only be stale if its holder died in these few lines.
    const info = await stat(guard).catch(() => undefined)
    if (info && Date.now() - info.mtimeMs > staleMs) await unlink(guard).catch(() => {})
    await sleep(LOCK_LIMITS.retryMinMs)
    return
  }
  try {
    await file.close()
    const now = await inspect(lockPath)
    if (now && now.text === seen.text && now.mtimeMs === seen.mtimeMs) await unlink(lockPath).catch(() => {})
  } finally {
    await unlink(guard).catch(() => {})
  }
}

async function release(lockPath: string, owner: LockOwner): Promise<void> {
  // Remove the lock only if it is still ours: after a takeover it belongs to someone else.
  const seen = await inspect(lockPath).catch(() => undefined)
  if (seen?.owner?.token === owner.token) await unlink(lockPath).catch(() => {})
}

function lockedError(lockPath: string, owner: LockOwner | undefined): HandoffError {
  const who = owner ? ` by pid ${owner.pid} on ${owner.host} since ${new Date(owner.createdAt).toISOString()}` : ''
  return new HandoffError(
    'STATE_LOCKED',
    503,
    `${lockPath} is held${who}. Try again; if no handoff process is running, remove it: rm ${JSON.stringify(lockPath)}`,
  )
}
