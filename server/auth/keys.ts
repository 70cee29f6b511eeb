import { randomBytes } from 'node:crypto'
import { chmod, link, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HandoffError } from '../errors.js'
import { ensureHome, writeFileAtomic } from '../store/index.js'
import { AUTH_LIMITS } from './limits.js'

export const TOKEN_KEY_FILE = 'token.key'
export const tokenKeyPath = (home: string): string => join(home, TOKEN_KEY_FILE)

/**
 * The session-token signing key: 32 random bytes kept base64url in
 * `HANDOFF_HOME/token.key` (0600). Created when missing and never
 * overwritten, even when two processes create it at the same moment (the
 * loser reads the winner's). A file that is not exactly 32 bytes of base64url
 * is BAD_CONFIG naming the file: every signed-in phone then has to sign in
 * again, so Handoff does not replace it silently.
 */
export async function loadTokenKey(home: string): Promise<Uint8Array> {
  const path = tokenKeyPath(home)
  const existing = await readKey(path)
  if (existing) return existing
  await ensureHome(home)
  // Written whole under a temporary name, then hard-linked into place: link() fails if the file exists, rename() would not.
  const tmp = join(home, `.${TOKEN_KEY_FILE}.${randomBytes(6).toString('hex')}.new`)
  try {
    await writeFileAtomic(tmp, `${randomBytes(AUTH_LIMITS.tokenKeyBytes).toString('base64url')}\n`)
    await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
  } finally {
    await rm(tmp, { force: true })
  }
  const created = await readKey(path)
  if (!created) throw new HandoffError('BAD_CONFIG', 500, `${path} disappeared while it was being created; run the command again`)
  return created
}

async function readKey(path: string): Promise<Uint8Array | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const trimmed = text.trim()
  const key = Buffer.from(trimmed, 'base64url')
  if (!/^[A-Za-z0-9_-]+$/.test(trimmed) || key.length !== AUTH_LIMITS.tokenKeyBytes) {
    throw new HandoffError(
      'BAD_CONFIG',
      500,
      `${path} is not a Handoff token key (${AUTH_LIMITS.tokenKeyBytes} bytes, base64url). ` +
        'Remove it to make a new one; every phone will then have to sign in again',
    )
  }
  // Anyone who can read the key can mint tokens: keep it owner-only even if someone loosened it.
  const { mode } = await stat(path)
  if ((mode & 0o077) !== 0) await chmod(path, 0o600)
  return new Uint8Array(key)
}

const cache = new Map<string, Promise<Uint8Array>>()

/** {@link loadTokenKey}, read once per home per process; a failed read is retried next time. */
export function tokenKeyFor(home: string): Promise<Uint8Array> {
  let key = cache.get(home)
  if (!key) {
    key = loadTokenKey(home)
    cache.set(home, key)
    key.catch(() => cache.delete(home))
  }
  return key
}
