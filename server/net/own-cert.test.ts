import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isHandoffError } from '../errors.js'
import { OWN_CERT_LIMITS, checkOwnCertificate, ownCertificateFromFlags, readOwnCertificateChoice, saveOwnCertificateChoice, watchOwnCertificate } from './own-cert.js'

const NAME = 'laptop.tail1234.ts.net'
// Test-only self-signed certificates for NAME: one valid until 2125, one that expired in 2020.
const fixture = (file: string): string => fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))

let dir: string
/** Copies a fixture pair into the test's folder (the key 0600, as a user keeps it). */
const pair = (year: '2125' | '2020', keyYear: '2125' | '2020' = year) => {
  const certPath = join(dir, `cert-${year}.pem`)
  const keyPath = join(dir, `key-${keyYear}.pem`)
  copyFileSync(fixture(`test-only-laptop-${year}.crt`), certPath)
  copyFileSync(fixture(`test-only-laptop-${keyYear}.key`), keyPath)
  chmodSync(keyPath, 0o600)
  return { certPath, keyPath }
}
const problem = async (files: { certPath: string; keyPath: string }, name = NAME, now = Date.now()) => {
  const r = await checkOwnCertificate(files, name, now)
  return r.ok ? 'ok' : `${r.message} | ${r.fix}`
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'handoff-own-cert-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('checkOwnCertificate', () => {
  it('accepts a certificate for the MagicDNS name, valid now, with its private key', async () => {
    const r = await checkOwnCertificate(pair('2125'), NAME)
    expect(r.ok && r.notAfter.getUTCFullYear()).toBe(2125)
  })

  it('refuses a certificate for another name, naming both', async () => {
    expect(await problem(pair('2125'), 'desktop.tail1234.ts.net')).toMatch(/is for DNS:laptop\.tail1234\.ts\.net, not for this machine's MagicDNS name desktop\.tail1234\.ts\.net \| make a certificate for desktop/)
  })

  it('refuses an expired certificate and one not valid yet', async () => {
    expect(await problem(pair('2020'))).toMatch(/expired on 2020-.*\| renew it for laptop/)
    expect(await problem(pair('2125'), NAME, Date.UTC(1999, 0, 1))).toMatch(/not valid before .*\| check this machine's clock/)
  })

  it('refuses a key that is not the certificate\'s', async () => {
    expect(await problem(pair('2125', '2020'))).toMatch(/does not belong to the certificate/)
  })

  it('refuses a key others can read, with the chmod that fixes it', async () => {
    const files = pair('2125')
    chmodSync(files.keyPath, 0o644)
    expect(await problem(files)).toBe(`the key ${files.keyPath} can be read by others (mode 644) | make it private: chmod 600 ${files.keyPath}`)
  })

  it('refuses missing files, folders, huge files and what is not PEM', async () => {
    const files = pair('2125')
    expect(await problem({ ...files, certPath: join(dir, 'nope.pem') })).toMatch(/cannot read the certificate .*nope\.pem \(ENOENT\)/)
    mkdirSync(join(dir, 'a-folder'))
    expect(await problem({ ...files, keyPath: join(dir, 'a-folder') })).toMatch(/the key .*a-folder is not a regular file/)
    const huge = join(dir, 'huge.pem')
    writeFileSync(huge, 'x'.repeat(OWN_CERT_LIMITS.fileBytes + 1))
    expect(await problem({ ...files, certPath: huge })).toMatch(/larger than 256 KB/)
    const junk = join(dir, 'junk.pem')
    writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n', { mode: 0o600 })
    expect(await problem({ ...files, certPath: junk })).toMatch(/is not a PEM certificate/)
    expect(await problem({ ...files, keyPath: junk })).toMatch(/is not a PEM private key/)
  })

  it('follows a symlinked certificate (certbot keeps its live files as links)', async () => {
    const files = pair('2125')
    const link = join(dir, 'live.pem')
    symlinkSync(files.certPath, link)
    expect(await problem({ ...files, certPath: link })).toBe('ok')
  })
})

describe('ownCertificateFromFlags', () => {
  it('takes both files or neither, made absolute', () => {
    expect(ownCertificateFromFlags({})).toBeUndefined()
    expect(ownCertificateFromFlags({ cert: 'c.pem', key: '/k.pem' }, '/home/me')).toEqual({ certPath: '/home/me/c.pem', keyPath: '/k.pem' })
    for (const flags of [{ cert: 'c.pem' }, { key: 'k.pem' }, { cert: '', key: ' ' }]) {
      expect(() => ownCertificateFromFlags(flags)).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }))
    }
  })
})

describe('the choice handoff setup records', () => {
  it('round-trips, is forgotten with undefined, and refuses a hand-edited file that names no absolute paths', async () => {
    expect(await readOwnCertificateChoice(dir)).toBeUndefined()
    await saveOwnCertificateChoice(dir, { certPath: '/etc/ssl/c.pem', keyPath: '/etc/ssl/k.pem' })
    expect(await readOwnCertificateChoice(dir)).toEqual({ certPath: '/etc/ssl/c.pem', keyPath: '/etc/ssl/k.pem' })
    await saveOwnCertificateChoice(dir, undefined)
    expect(await readOwnCertificateChoice(dir)).toBeUndefined()
    for (const text of ['{"cert":"c.pem","key":"k.pem"}', '[]', 'not json']) {
      writeFileSync(join(dir, 'certificate.json'), text, { mode: 0o600 })
      const err = await readOwnCertificateChoice(dir).catch((e: unknown) => e)
      expect(isHandoffError(err, 'BAD_CONFIG')).toBe(true)
    }
  })
})

describe('watchOwnCertificate', () => {
  it('calls back once after the key is replaced by a rename, as renewals do', async () => {
    const files = pair('2125')
    let calls = 0
    const stop = watchOwnCertificate(files, () => calls++)
    try {
      writeFileSync(`${files.keyPath}.new`, 'next', { mode: 0o600 })
      const { renameSync } = await import('node:fs')
      renameSync(`${files.keyPath}.new`, files.keyPath)
      writeFileSync(join(dir, 'unrelated.txt'), 'x')
      await expect.poll(() => calls, { timeout: 5_000, interval: 50 }).toBe(1)
      await new Promise((r) => setTimeout(r, OWN_CERT_LIMITS.reloadSettleMs * 2))
      expect(calls).toBe(1)
    } finally {
      stop()
    }
  })
})
