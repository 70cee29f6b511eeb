import { createECDH, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import * as v from 'valibot'
import { HandoffError } from '../../errors.js'
import { loadSecretFile } from '../../store/index.js'

export const VAPID_FILE = 'vapid.json'
export const vapidPath = (home: string): string => join(home, VAPID_FILE)

/**
 * The server's Web Push identity (RFC 8292) and the key that makes `Topic`
 * headers opaque. Kept in `HANDOFF_HOME/vapid.json` (0600).
 */
export interface VapidKeys {
  /** Uncompressed P-256 public key, base64url (65 bytes): the browser's `applicationServerKey`. */
  publicKey: string
  /** P-256 private key, base64url (32 bytes). */
  privateKey: string
  /** HMAC-SHA256 key for Topic headers, base64url (32 bytes). */
  topicKey: string
}

const bytes = (n: number) =>
  v.pipe(
    v.string(),
    v.regex(/^[A-Za-z0-9_-]+$/, 'must be base64url'),
    v.check((s) => Buffer.from(s, 'base64url').length === n, `must be ${n} bytes`),
  )

const VapidFileSchema = v.strictObject({
  version: v.literal(1),
  publicKey: bytes(65),
  privateKey: bytes(32),
  topicKey: bytes(32),
  createdAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
})

function newKeys(): v.InferOutput<typeof VapidFileSchema> {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  // getPrivateKey may drop leading zero bytes; VAPID wants exactly 32.
  const priv = ecdh.getPrivateKey()
  const privateKey = Buffer.concat([Buffer.alloc(32 - priv.length), priv])
  return {
    version: 1,
    publicKey: ecdh.getPublicKey().toString('base64url'),
    privateKey: privateKey.toString('base64url'),
    topicKey: randomBytes(32).toString('base64url'),
    createdAt: Date.now(),
  }
}

/**
 * Loads the VAPID keys, creating `HANDOFF_HOME/vapid.json` (0600) the first
 * time. Never overwritten, even when two processes create it at once (the
 * loser reads the winner's): a new key pair would silently orphan every
 * phone's subscription. A malformed file is BAD_CONFIG naming it.
 */
export async function loadVapidKeys(home: string): Promise<VapidKeys> {
  const path = vapidPath(home)
  return loadSecretFile(path, () => `${JSON.stringify(newKeys(), null, 2)}\n`, (text) => {
    const bad = (problem: string) =>
      new HandoffError(
        'BAD_CONFIG',
        500,
        `${path} is not a Handoff VAPID key file (${problem}). Fix it, or remove it to make new keys; ` +
          'every phone will then have to turn notifications on again',
      )
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      throw bad('not JSON')
    }
    const parsed = v.safeParse(VapidFileSchema, raw)
    if (!parsed.success) {
      const issue = parsed.issues[0]
      const at = v.getDotPath(issue)
      throw bad(`${at ? `${at}: ` : ''}${issue.message}`)
    }
    const { publicKey, privateKey, topicKey } = parsed.output
    if (!keysMatch(publicKey, privateKey)) throw bad('the public key does not belong to the private key')
    return { publicKey, privateKey, topicKey }
  })
}

function keysMatch(publicKey: string, privateKey: string): boolean {
  try {
    const ecdh = createECDH('prime256v1')
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'))
    return ecdh.getPublicKey().toString('base64url') === publicKey
  } catch {
    return false
  }
}

/** The VAPID `sub` claim: the server's https origin on the tailnet, else a mailto address. */
export function vapidSubject(origin: string | undefined): string {
  return origin?.startsWith('https://') ? origin : 'mailto:handoff@localhost'
}
