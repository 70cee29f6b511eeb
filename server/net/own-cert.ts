import { X509Certificate, createPrivateKey } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { HandoffError } from '../errors.js'
import { readJsonFile, removeFile, writeFileAtomic } from '../store/index.js'

/**
 * A certificate the user brings, for a tailnet whose names `tailscale cert`
 * cannot serve (an internal CA, mkcert, a Headscale deployment): docs/tailnet.md.
 * Handoff reads the files where they are, checks them at start, and reloads
 * them when they change; it never copies or rewrites them.
 */
export interface OwnCertificate {
  /** PEM: the server certificate, then any intermediates. */
  certPath: string
  /** PEM: its private key; readable by the user only. */
  keyPath: string
}

export const OWN_CERT_LIMITS = {
  /** Largest certificate or key file read (bytes): a chain is a few KB. */
  fileBytes: 256 * 1024,
  /** Quiet time after a change before the files are read again (ms): a renewal writes both. */
  reloadSettleMs: 300,
} as const

export type OwnCertificateCheck =
  | { ok: true; notAfter: Date; tls: { cert: Buffer; key: Buffer } }
  | { ok: false; message: string; fix: string }

const bad = (message: string, fix: string): OwnCertificateCheck => ({ ok: false, message, fix })

async function readPem(path: string, what: string): Promise<{ bytes: Buffer; info: Stats } | OwnCertificateCheck> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return bad(`cannot read the ${what} ${path} (${code ?? String(err)})`, `check the path, or make the ${what} again`)
  }
  if (!info.isFile()) return bad(`the ${what} ${path} is not a regular file`, `give the path of the ${what} file itself`)
  if (info.size > OWN_CERT_LIMITS.fileBytes) return bad(`the ${what} ${path} is larger than ${OWN_CERT_LIMITS.fileBytes / 1024} KB`, `give a PEM ${what} file`)
  return { bytes: await readFile(path), info }
}

/**
 * Checks a brought certificate for the MagicDNS name `dnsName` at `now`: both
 * files readable PEM, the key private to the user (no group or other access,
 * owned by the user), the certificate naming `dnsName`, valid now, and made
 * for this key. Never throws; each problem says what to do next.
 */
export async function checkOwnCertificate(files: OwnCertificate, dnsName: string, now: number = Date.now()): Promise<OwnCertificateCheck> {
  const certFile = await readPem(files.certPath, 'certificate')
  if ('ok' in certFile) return certFile
  const keyFile = await readPem(files.keyPath, 'key')
  if ('ok' in keyFile) return keyFile
  const [cert, key, keyInfo] = [certFile.bytes, keyFile.bytes, keyFile.info]

  if ((keyInfo.mode & 0o077) !== 0) {
    return bad(`the key ${files.keyPath} can be read by others (mode ${(keyInfo.mode & 0o777).toString(8)})`, `make it private: chmod 600 ${files.keyPath}`)
  }
  const uid = process.getuid?.()
  if (uid !== undefined && keyInfo.uid !== uid) return bad(`the key ${files.keyPath} belongs to another user (uid ${keyInfo.uid})`, `copy it to a file of your own with mode 600`)

  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch {
    return bad(`${files.certPath} is not a PEM certificate`, 'give the certificate file (-----BEGIN CERTIFICATE-----), the server certificate first')
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch {
    return bad(`${files.keyPath} is not a PEM private key (or it is encrypted)`, 'give the unencrypted private key file (-----BEGIN PRIVATE KEY-----)')
  }
  if (x509.checkHost(dnsName) === undefined) {
    const names = x509.subjectAltName ?? `CN ${x509.subject}`
    return bad(`the certificate ${files.certPath} is for ${names}, not for this machine's MagicDNS name ${dnsName}`, `make a certificate for ${dnsName}`)
  }
  const notBefore = Date.parse(x509.validFrom)
  const notAfter = Date.parse(x509.validTo)
  if (now < notBefore) return bad(`the certificate ${files.certPath} is not valid before ${new Date(notBefore).toISOString()}`, "check this machine's clock, or make the certificate again")
  if (now > notAfter) return bad(`the certificate ${files.certPath} expired on ${new Date(notAfter).toISOString()}`, `renew it for ${dnsName}`)
  if (!x509.checkPrivateKey(privateKey)) return bad(`the key ${files.keyPath} does not belong to the certificate ${files.certPath}`, 'give the key the certificate was made for')
  return { ok: true, notAfter: new Date(notAfter), tls: { cert, key } }
}

/** `--cert FILE --key FILE`: both or neither, made absolute. */
export function ownCertificateFromFlags(flags: { cert?: string; key?: string }, cwd: string = process.cwd()): OwnCertificate | undefined {
  if (flags.cert === undefined && flags.key === undefined) return undefined
  if (flags.cert === undefined || flags.key === undefined) throw new HandoffError('BAD_CONFIG', 400, '--cert and --key go together: give both files, or neither to use tailscale cert')
  if (flags.cert.trim() === '' || flags.key.trim() === '') throw new HandoffError('BAD_CONFIG', 400, '--cert and --key need file paths')
  return { certPath: resolve(cwd, flags.cert), keyPath: resolve(cwd, flags.key) }
}

const choiceFile = (home: string) => join(home, 'certificate.json')

/** The certificate `handoff setup --cert … --key …` chose, if any. */
export async function readOwnCertificateChoice(home: string): Promise<OwnCertificate | undefined> {
  const path = choiceFile(home)
  const value = await readJsonFile(path)
  if (value === undefined) return undefined
  const { cert, key } = (value ?? {}) as { cert?: unknown; key?: unknown }
  if (typeof cert !== 'string' || typeof key !== 'string' || !isAbsolute(cert) || !isAbsolute(key)) {
    throw new HandoffError('BAD_CONFIG', 400, `${path} does not name a certificate and key by absolute path; run: handoff setup --cert FILE --key FILE (or remove it to use tailscale cert)`)
  }
  return { certPath: cert, keyPath: key }
}

/** Records the user's certificate for `handoff serve`; undefined goes back to `tailscale cert`. */
export async function saveOwnCertificateChoice(home: string, files: OwnCertificate | undefined): Promise<void> {
  if (files === undefined) return removeFile(choiceFile(home))
  await writeFileAtomic(choiceFile(home), `${JSON.stringify({ cert: files.certPath, key: files.keyPath }, null, 2)}\n`)
}

/**
 * Calls `onChange` once the certificate or key file changes (written in
 * place, replaced by a rename, or a symlink pointed elsewhere, as certbot and
 * mkcert do), after a short quiet time. Watches the folders, since a rename
 * replaces the file a file watch would follow. Returns stop().
 */
export function watchOwnCertificate(files: OwnCertificate, onChange: () => void): () => void {
  const names = new Map<string, Set<string>>()
  for (const path of [files.certPath, files.keyPath]) {
    const dir = dirname(path)
    names.set(dir, (names.get(dir) ?? new Set()).add(basename(path)))
  }
  let timer: NodeJS.Timeout | undefined
  const changed = () => {
    clearTimeout(timer)
    timer = setTimeout(onChange, OWN_CERT_LIMITS.reloadSettleMs)
  }
  const watchers: FSWatcher[] = []
  for (const [dir, wanted] of names) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || wanted.has(name.toString())) changed()
      })
      w.on('error', () => {})
      watchers.push(w)
    } catch {
      // A folder that cannot be watched: the daily check still reloads.
    }
  }
  return () => {
    clearTimeout(timer)
    for (const w of watchers) w.close()
  }
}
