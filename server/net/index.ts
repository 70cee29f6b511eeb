import { execFile } from 'node:child_process'
import { BlockList, isIP } from 'node:net'
import { networkInterfaces } from 'node:os'

/** Tailscale's address ranges: CGNAT IPv4 and its own IPv6 ULA prefix. */
const tailnet = new BlockList()
tailnet.addSubnet('100.64.0.0', 10, 'ipv4')
tailnet.addSubnet('fd7a:115c:a1e0::', 48, 'ipv6')

export function isTailnetAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  return tailnet.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

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
