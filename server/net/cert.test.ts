import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StubBin, sq } from '../../tests/support/stub-bin.js'
import { CERT_LIMITS, certificateNeedsRenewal, ensureCertificate } from './cert.js'

const DAY = 24 * 60 * 60_000
const NAME = 'laptop.tail1234.ts.net'
// Test-only self-signed certificates for NAME: one valid until 2125, one that expired in 2020.
const fixture = (file: string): string => fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))
const VALID = { crt: fixture('test-only-laptop-2125.crt'), key: fixture('test-only-laptop-2125.key') }
const EXPIRED = { crt: fixture('test-only-laptop-2020.crt'), key: fixture('test-only-laptop-2020.key') }

describe('certificateNeedsRenewal', () => {
  const now = Date.UTC(2026, 0, 1)
  it('renews with 14 days or less left, not with more', () => {
    expect(CERT_LIMITS.renewBeforeMs).toBe(14 * DAY)
    expect(certificateNeedsRenewal(new Date(now + 14 * DAY + 1), now)).toBe(false)
    expect(certificateNeedsRenewal(new Date(now + 14 * DAY), now)).toBe(true)
    expect(certificateNeedsRenewal(new Date(now + 60 * DAY), now)).toBe(false)
    expect(certificateNeedsRenewal(new Date(now - 1), now)).toBe(true)
    expect(certificateNeedsRenewal(now + 90 * DAY, now)).toBe(false)
  })
  it('renews an unreadable date', () => {
    expect(certificateNeedsRenewal(new Date(Number.NaN), now)).toBe(true)
  })
})

describe('ensureCertificate with a stand-in tailscale on PATH', () => {
  let stubs: StubBin
  let home: string
  let savedPath: string | undefined
  const certPath = (): string => join(home, 'tls', `${NAME}.crt`)
  const keyPath = (): string => join(home, 'tls', `${NAME}.key`)
  const mode = (p: string): number => statSync(p).mode & 0o777

  beforeEach(() => {
    stubs = new StubBin()
    home = mkdtempSync(join(tmpdir(), 'handoff-cert-'))
    savedPath = process.env.PATH
    process.env.PATH = stubs.dir
  })
  afterEach(() => {
    process.env.PATH = savedPath
    stubs.remove()
    rmSync(home, { recursive: true, force: true })
  })

  /** A tailscale whose `cert` writes `pair` where --cert-file and --key-file say, as the real one does. */
  const issuing = (pair: { crt: string; key: string }): void =>
    void stubs.add(
      'tailscale',
      [
        '[ "$1" = cert ] && [ "$2" = --cert-file ] && [ "$4" = --key-file ] || exit 2',
        `while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < ${sq(pair.crt)} > "$3"`,
        `while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < ${sq(pair.key)} > "$5"`,
        'printf "Wrote public cert to %s\\n" "$3" >&2',
      ].join('\n'),
    )

  it('gets a certificate into HOME/tls with modes 0700/0600/0644, then leaves it while valid', async () => {
    issuing(VALID)
    const first = await ensureCertificate(home, NAME)
    expect(first).toMatchObject({ ok: true, certPath: certPath(), keyPath: keyPath(), renewed: true })
    expect(first.ok && first.notAfter.toISOString()).toBe('2125-01-01T00:00:00.000Z')
    expect(stubs.calls('tailscale')).toEqual([`cert --cert-file ${certPath()} --key-file ${keyPath()} ${NAME}`])
    expect(mode(join(home, 'tls'))).toBe(0o700)
    expect(mode(keyPath())).toBe(0o600)
    expect(mode(certPath())).toBe(0o644)

    chmodSync(keyPath(), 0o644)
    const second = await ensureCertificate(home, NAME)
    expect(second).toMatchObject({ ok: true, renewed: false })
    expect(stubs.calls('tailscale')).toHaveLength(1)
    expect(mode(keyPath())).toBe(0o600)
  })

  it('renews an expired certificate', async () => {
    mkdirSync(join(home, 'tls'), { mode: 0o700 })
    copyFileSync(EXPIRED.crt, certPath())
    copyFileSync(EXPIRED.key, keyPath())
    issuing(VALID)
    expect(await ensureCertificate(home, NAME)).toMatchObject({ ok: true, renewed: true })
    expect(stubs.calls('tailscale')).toHaveLength(1)
  })

  it('renews a certificate whose key file does not match it', async () => {
    mkdirSync(join(home, 'tls'), { mode: 0o700 })
    copyFileSync(VALID.crt, certPath())
    copyFileSync(EXPIRED.key, keyPath())
    issuing(VALID)
    expect(await ensureCertificate(home, NAME)).toMatchObject({ ok: true, renewed: true })
    expect(stubs.calls('tailscale')).toHaveLength(1)
  })

  it('asks for a certificate for the given name only', async () => {
    issuing(VALID)
    const other = await ensureCertificate(home, 'desktop.tail1234.ts.net')
    expect(other).toMatchObject({ ok: false, code: 'CERT_FAILED' })
  })

  it('passes on "HTTPS not enabled" with the admin console hint', async () => {
    stubs.add('tailscale', "printf '%s\\n' '500 Internal Server Error: your Tailscale account does not support getting TLS certs' >&2; exit 1")
    const r = await ensureCertificate(home, NAME)
    expect(r).toMatchObject({ ok: false, code: 'HTTPS_DISABLED' })
    expect(!r.ok && r.message).toContain('does not support getting TLS certs')
    expect(!r.ok && r.fix).toContain('https://login.tailscale.com/admin/dns')
  })

  it('says how to allow a non-root user on Linux', async () => {
    stubs.add('tailscale', "printf '%s\\n' 'Access denied: cert access denied' >&2; exit 1")
    const r = await ensureCertificate(home, NAME, Date.now(), 'linux')
    expect(r).toMatchObject({ ok: false, code: 'CERT_ACCESS_DENIED' })
    expect(!r.ok && r.fix).toContain('tailscale set --operator=$USER')
  })

  it('says when tailscale is missing', async () => {
    expect(await ensureCertificate(home, NAME)).toMatchObject({ ok: false, code: 'TAILSCALE_NOT_INSTALLED' })
  })

  it('refuses a name that is not a plain DNS name before running anything', async () => {
    issuing(VALID)
    await expect(ensureCertificate(home, '../../etc/x')).rejects.toMatchObject({ code: 'BAD_CONFIG' })
    await expect(ensureCertificate(home, '--help')).rejects.toMatchObject({ code: 'BAD_CONFIG' })
    expect(stubs.calls('tailscale')).toEqual([])
  })
})
