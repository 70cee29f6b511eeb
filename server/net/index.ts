import { execFile } from 'node:child_process'
import { networkInterfaces } from 'node:os'
import { isTailnetAddress } from './tailnet.js'

export {
  TAILNET_LIMITS,
  assertServableAddresses,
  createWhois,
  findTailnetIdentity,
  installTailscaleHint,
  isAllowedPeer,
  isDnsName,
  isLoopbackAddress,
  isTailnetAddress,
  isUserspaceTailscale,
  listenAll,
  parseTailscaleStatus,
  parseWhois,
  plainAddress,
  watchTailnetAddresses,
  whois,
} from './tailnet.js'
export type { Listening, TailnetIdentity, TailnetProblem, WatchOptions, Whois, WhoisOptions, WhoisResult } from './tailnet.js'
export { CERT_LIMITS, certificateNeedsRenewal, ensureCertificate } from './cert.js'
export type { Certificate, CertificateProblem, CertificateResult } from './cert.js'
export { OWN_CERT_LIMITS, checkOwnCertificate, ownCertificateFromFlags, readOwnCertificateChoice, saveOwnCertificateChoice } from './own-cert.js'
export type { OwnCertificate, OwnCertificateCheck } from './own-cert.js'

/** Where `serve` listens until device sign-in exists: loopback only, never 0.0.0.0 or ::. */
export const LOOPBACK_ADDRESSES = ['127.0.0.1', '::1'] as const

/** The names a loopback server answers to, as written in a URL's host. */
export const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'] as const

export interface TailscaleInfo {
  /** Whether the `tailscale` command exists. */
  installed: boolean
  /** This machine's tailnet addresses, from `tailscale ip` or, failing that, its interfaces. */
  addresses: string[]
}

function tailscaleIp(): Promise<{ installed: boolean; addresses: string[] }> {
  return new Promise((resolve) => {
    execFile('tailscale', ['ip'], { timeout: 2_000, maxBuffer: 64 * 1024 }, (err, stdout) => {
      const notInstalled = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
      const addresses = err ? [] : stdout.split(/\s+/).filter(isTailnetAddress)
      resolve({ installed: !notInstalled, addresses })
    })
  })
}

/** Finds this machine's Tailscale addresses; reports, never throws. */
export async function findTailscale(): Promise<TailscaleInfo> {
  const fromCli = await tailscaleIp()
  const fromInterfaces = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => i.address)
    .filter(isTailnetAddress)
  return { installed: fromCli.installed, addresses: [...new Set([...fromCli.addresses, ...fromInterfaces])] }
}
