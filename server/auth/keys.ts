import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { HandoffError } from '../errors.js'
import { loadSecretFile } from '../store/index.js'
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
  return loadSecretFile(path, () => `${randomBytes(AUTH_LIMITS.tokenKeyBytes).toString('base64url')}\n`, (text) => {
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
    return new Uint8Array(key)
  })
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
