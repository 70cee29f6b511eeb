import { X509Certificate, createPrivateKey } from 'node:crypto'
import { chmod, mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HandoffError } from '../errors.js'
import { oneLine, runCommand } from './run.js'
import { isDnsName } from './tailnet.js'

/** Limits of the certificate step, with units (docs/tailnet.md). */
export const CERT_LIMITS = {
  renewBeforeMs: 14 * 24 * 60 * 60_000, // Let's Encrypt certificates last 90 days
  timeoutMs: 120_000, // a new certificate waits for an ACME DNS challenge
  outputBytes: 64 * 1024,
} as const

export interface Certificate {
  certPath: string
  keyPath: string
  notAfter: Date
  /** Whether this call changed the certificate or key file: reload them when true. */
  renewed: boolean
}

export type CertificateProblem = 'TAILSCALE_NOT_INSTALLED' | 'TAILSCALE_NOT_RUNNING' | 'HTTPS_DISABLED' | 'CERT_ACCESS_DENIED' | 'CERT_FAILED'

export type CertificateResult = ({ ok: true } & Certificate) | { ok: false; code: CertificateProblem; message: string; fix: string }

/** Whether a certificate that expires at `notAfter` is due for renewal at `now`: 14 days or less left. Pure. */
export function certificateNeedsRenewal(notAfter: Date | number, now: number): boolean {
  const end = typeof notAfter === 'number' ? notAfter : notAfter.getTime()
  return !Number.isFinite(end) || end - now <= CERT_LIMITS.renewBeforeMs
}

interface OnDisk {
  pem: string
  key: string
  notAfter: Date
  /** Parses, names `dnsName`, and matches the key file. */
  usable: boolean
}

async function inspect(certPath: string, keyPath: string, dnsName: string): Promise<OnDisk | undefined> {
  let pem: string
  let key: string
  try {
    ;[pem, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')])
  } catch {
    return undefined
  }
  try {
    const cert = new X509Certificate(pem)
    const notAfter = new Date(Date.parse(cert.validTo))
    const usable = cert.checkHost(dnsName) !== undefined && cert.checkPrivateKey(createPrivateKey(key))
    return { pem, key, notAfter, usable }
  } catch {
    return { pem, key, notAfter: new Date(Number.NaN), usable: false }
  }
}

async function setMode(path: string, mode: number): Promise<void> {
  if (((await stat(path)).mode & 0o777) !== mode) await chmod(path, mode)
}

const ADMIN_DNS = 'https://login.tailscale.com/admin/dns'

/**
 * Makes sure `HOME/tls/NAME.crt` and `NAME.key` hold a certificate for the
 * MagicDNS name `dnsName`, valid for more than 14 more days: when it is not,
 * runs `tailscale cert --cert-file … --key-file … NAME`. The folder is 0700,
 * the key 0600, the certificate 0644. Never throws for Tailscale's refusals:
 * they come back with a code and the next step (HTTPS_DISABLED names the admin
 * console page). Throws BAD_CONFIG for a `dnsName` that is not a plain DNS name.
 *
 * Tailscale itself renews in the background once a certificate has 14 days
 * left, so call this again (daily, say) and reload when `renewed` is true.
 */
export async function ensureCertificate(
  home: string,
  dnsName: string,
  now: number = Date.now(),
  platform: NodeJS.Platform = process.platform,
): Promise<CertificateResult> {
  // The name becomes part of two paths and an argument: refuse anything but a DNS name.
  if (!isDnsName(dnsName)) throw new HandoffError('BAD_CONFIG', 400, `not a DNS name: ${JSON.stringify(dnsName)}`)
  const dir = join(home, 'tls')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await setMode(dir, 0o700)
  const certPath = join(dir, `${dnsName}.crt`)
  const keyPath = join(dir, `${dnsName}.key`)

  const before = await inspect(certPath, keyPath, dnsName)
  if (before?.usable && !certificateNeedsRenewal(before.notAfter, now)) {
    await setMode(keyPath, 0o600)
    await setMode(certPath, 0o644)
    return { ok: true, certPath, keyPath, notAfter: before.notAfter, renewed: false }
  }

  const command = `tailscale cert --cert-file ${certPath} --key-file ${keyPath} ${dnsName}`
  const r = await runCommand('tailscale', ['cert', '--cert-file', certPath, '--key-file', keyPath, dnsName], {
    timeoutMs: CERT_LIMITS.timeoutMs,
    maxBytes: CERT_LIMITS.outputBytes,
  })
  const failed = (code: CertificateProblem, message: string, fix: string): CertificateResult => ({ ok: false, code, message, fix })
  switch (r.kind) {
    case 'ok':
      break
    case 'missing':
      return failed('TAILSCALE_NOT_INSTALLED', 'cannot get an HTTPS certificate: Tailscale is not installed', 'install Tailscale, then run: handoff setup')
    case 'timeout':
      return failed('CERT_FAILED', `${command} did not finish within ${r.timeoutMs / 1000} s`, 'try again in a few minutes: handoff setup')
    case 'too-large':
      return failed('CERT_FAILED', `${command} printed more than ${r.maxBytes} bytes`, 'run that command yourself to see what it says')
    case 'failed': {
      const said = oneLine(r.stderr || r.stdout || r.message)
      if (/does not support getting TLS certs|not enabled|enable HTTPS/i.test(said)) {
        return failed('HTTPS_DISABLED', `HTTPS certificates are not enabled in this tailnet (tailscale cert: ${said})`, `enable HTTPS Certificates at ${ADMIN_DNS}, then run: handoff setup`)
      }
      if (/access denied|permission denied|operator/i.test(said)) {
        return failed(
          'CERT_ACCESS_DENIED',
          `tailscale cert was refused (${said})`,
          platform === 'linux' ? 'let your user fetch certificates with: sudo tailscale set --operator=$USER, then run: handoff setup' : 'run: handoff setup as the user signed in to Tailscale',
        )
      }
      if (/failed to connect|not running|tailscaled/i.test(said)) {
        return failed('TAILSCALE_NOT_RUNNING', `cannot get an HTTPS certificate: Tailscale is not running (${said})`, 'connect with: tailscale up')
      }
      return failed('CERT_FAILED', `${command} exited ${r.exitCode ?? 'abnormally'}: ${said}`, 'fix what tailscale says, then run: handoff setup')
    }
  }

  const after = await inspect(certPath, keyPath, dnsName)
  if (!after) {
    return failed(
      'CERT_FAILED',
      `tailscale cert succeeded but ${certPath} or ${keyPath} is missing`,
      platform === 'darwin'
        ? "the Mac App Store Tailscale's CLI writes only inside its sandbox: install the standalone Tailscale (https://tailscale.com/download/mac), then run: handoff setup"
        : `run the command yourself and check where it writes: ${command}`,
    )
  }
  if (!after.usable) {
    return failed('CERT_FAILED', `the certificate tailscale cert wrote to ${certPath} is not for ${dnsName} or does not match its key`, `remove ${dir} and run: handoff setup`)
  }
  await setMode(keyPath, 0o600)
  await setMode(certPath, 0o644)
  return { ok: true, certPath, keyPath, notAfter: after.notAfter, renewed: after.pem !== before?.pem || after.key !== before.key }
}
