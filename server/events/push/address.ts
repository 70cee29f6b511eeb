import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { Agent } from 'node:https'
import { BlockList, isIP, type LookupFunction, type Socket } from 'node:net'

/**
 * Address ranges a push may never connect to: the machine itself, the LAN,
 * the tailnet (CGNAT 100.64/10 and Tailscale's fd7a:115c:a1e0::/48, inside
 * fc00::/7), link-local, multicast, unspecified and reserved. A push service
 * is always a public address; anything else is request forgery or a broken DNS.
 */
const BLOCKED: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this network", unspecified
  ['10.0.0.0', 8, 'ipv4'], // RFC 1918
  ['100.64.0.0', 10, 'ipv4'], // CGNAT: the tailnet
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local (cloud metadata lives here)
  ['172.16.0.0', 12, 'ipv4'], // RFC 1918
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.168.0.0', 16, 'ipv4'], // RFC 1918
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, and 255.255.255.255 broadcast
  ['::', 96, 'ipv6'], // unspecified, loopback, IPv4-compatible (deprecated)
  ['fc00::', 7, 'ipv6'], // unique-local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
]

const LOOPBACK: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]

function blockList(ranges: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']>): BlockList {
  const list = new BlockList()
  for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family)
  return list
}

const blocked = blockList(BLOCKED)
const loopback = blockList(LOOPBACK)

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) IPv6 address. */
function embeddedIPv4(address: string): string | undefined {
  let normal: string
  try {
    normal = new URL(`http://[${address}]/`).hostname.slice(1, -1) // compressed, hex form
  } catch {
    return undefined
  }
  const m = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(normal)
  if (!m) return undefined
  const hi = parseInt(m[1] ?? '0', 16)
  const lo = parseInt(m[2] ?? '0', 16)
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

export interface AddressPolicy {
  /** Test-only: let loopback addresses through (127.0.0.0/8, ::1). Never set in production. */
  allowLoopbackEndpointForTests?: boolean
}

/**
 * Why `address` may not be connected to, or null when it may. Pure. Anything
 * that is not an IP address at all is refused too.
 */
export function blockedAddressReason(address: string, policy: AddressPolicy = {}): string | null {
  const bare = address.replace(/%.*$/, '') // a zone id (fe80::1%eth0)
  const family = isIP(bare)
  if (family === 0) return `${JSON.stringify(address)} is not an IP address`
  const v4 = family === 6 ? embeddedIPv4(bare) : undefined
  const addr = v4 ?? bare
  const kind = v4 !== undefined || family === 4 ? 'ipv4' : 'ipv6'
  if (policy.allowLoopbackEndpointForTests && loopback.check(addr, kind)) return null
  return blocked.check(addr, kind) ? `${address} is a loopback, private, link-local, tailnet, multicast or reserved address` : null
}

/** An error from the guarded lookup or socket check, so callers can tell it from a network failure. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError'
  readonly code = 'PUSH_ADDRESS_BLOCKED'
}

/**
 * A `lookup` for net/tls connections that resolves the host itself and fails
 * the connection if ANY resolved address is blocked (failing closed also
 * defeats DNS answers that mix a public and a private address).
 */
export function guardedLookup(policy: AddressPolicy = {}, resolve: LookupFunction = dnsLookup as LookupFunction): LookupFunction {
  return function guardedLookup(hostname, options, callback) {
    resolve(hostname, { ...options, all: true }, (err, result) => {
      if (err) return callback(err, '', 4)
      const all = (Array.isArray(result) ? result : [{ address: String(result), family: isIP(String(result)) }]) as LookupAddress[]
      for (const { address } of all) {
        const reason = blockedAddressReason(address, policy)
        if (reason) return callback(new BlockedAddressError(`push endpoint ${hostname} resolves to ${reason}`), '', 4)
      }
      if (all.length === 0) return callback(Object.assign(new Error(`push endpoint ${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4)
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, all)
      const first = all[0] as LookupAddress
      callback(null, first.address, first.family)
    })
  }
}

/**
 * Checks the connected peer of a socket before any request byte is written:
 * covers IP-literal hosts (for which no lookup runs) and any lookup bypass.
 */
export function checkPeer(socket: Socket, policy: AddressPolicy): Error | null {
  const address = socket.remoteAddress
  if (address === undefined) return new BlockedAddressError('push connection has no peer address')
  const reason = blockedAddressReason(address, policy)
  return reason ? new BlockedAddressError(`push connection peer ${reason}`) : null
}

export interface PushAgentOptions extends AddressPolicy {
  /** Test-only extra CA (the test endpoint's self-signed certificate). */
  caForTests?: string | Buffer
  /** DNS resolver; tests pass a stub. */
  resolve?: LookupFunction
  maxSockets?: number
}

/**
 * The https.Agent every push goes through: guarded DNS, no proxy (a plain
 * Agent never reads proxy variables), certificate checks on, keep-alive.
 */
export function createPushAgent(options: PushAgentOptions = {}): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 8,
    lookup: guardedLookup(options, options.resolve),
    ...(options.caForTests === undefined ? {} : { ca: options.caForTests }),
  })
}
