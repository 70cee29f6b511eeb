import type { Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import { BlockList, isIP } from 'node:net'
import { HandoffError } from '../errors.js'
import { oneLine, runCommand } from './run.js'

/** Every limit of the Tailscale wrappers, with its unit (docs/tailnet.md). */
export const TAILNET_LIMITS = {
  statusTimeoutMs: 5_000,
  statusOutputBytes: 1024 * 1024, // `status --json --peers=false`: this machine only
  whoisTimeoutMs: 2_000,
  whoisOutputBytes: 256 * 1024,
  whoisCacheMs: 30_000, // a peer's node and user, per address
  whoisCacheEntries: 1_024, // oldest dropped first
  peerRecheckMs: 5_000, // an open terminal's peer is named again (uncached) this often
  watchIntervalMs: 10_000,
} as const

// Tailscale's address ranges: CGNAT IPv4 and its own IPv6 ULA prefix.
const tailnet = new BlockList()
tailnet.addSubnet('100.64.0.0', 10, 'ipv4')
tailnet.addSubnet('fd7a:115c:a1e0::', 48, 'ipv6')

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

// BlockList matches IPv4 rules against IPv4-mapped IPv6 (`::ffff:100.64.0.1`), which is
// how a dual-stack socket reports an IPv4 peer; a listen address must be written plainly.
const mapped = new BlockList()
mapped.addSubnet('::ffff:0:0', 96, 'ipv6')

const familyOf = (address: string): 'ipv4' | 'ipv6' | undefined => {
  // A zone index (`fe80::1%eth0`) is link-local by definition, never loopback or tailnet.
  if (address.includes('%')) return undefined
  const family = isIP(address)
  return family === 4 ? 'ipv4' : family === 6 ? 'ipv6' : undefined
}

/** Whether `address` is in 100.64.0.0/10 or fd7a:115c:a1e0::/48 (IPv4-mapped forms included). */
export function isTailnetAddress(address: string): boolean {
  const family = familyOf(address)
  return family !== undefined && tailnet.check(address, family)
}

/** Whether `address` is in 127.0.0.0/8 or is ::1 (IPv4-mapped forms included). */
export function isLoopbackAddress(address: string): boolean {
  const family = familyOf(address)
  return family !== undefined && loopback.check(address, family)
}

/**
 * Whether a socket's peer address may talk to Handoff at all. Pure.
 *
 * `tailnet` accepts Tailscale's ranges and loopback: tailscaled in userspace
 * mode delivers tailnet connections from 127.0.0.1, so a loopback peer is
 * never proof of anything and the caller must still require a signed-in
 * device. `loopback` accepts 127.0.0.0/8 and ::1 only. Anything unparsable is refused.
 *
 * @example isAllowedPeer('::ffff:100.100.1.2', 'tailnet') // true
 * @example isAllowedPeer('192.168.1.20', 'tailnet') // false: a LAN host reaching the 100.x address
 */
export function isAllowedPeer(address: string, mode: 'tailnet' | 'loopback'): boolean {
  if (isLoopbackAddress(address)) return true
  return mode === 'tailnet' && isTailnetAddress(address)
}

/** `::ffff:100.64.0.1` → `100.64.0.1`; other addresses unchanged. */
export function plainAddress(address: string): string {
  const family = familyOf(address)
  if (family !== 'ipv6' || !mapped.check(address, 'ipv6')) return address
  const tail = address.slice(address.lastIndexOf(':') + 1)
  if (isIP(tail) === 4) return tail
  // Hex form `::ffff:6440:1`: the last 32 bits.
  const groups = address.split(':')
  const hi = Number.parseInt(groups.at(-2) ?? '', 16)
  const lo = Number.parseInt(groups.at(-1) ?? '', 16)
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.')
}

// ---------------------------------------------------------------- identity

/** Why this machine cannot serve on its tailnet; `fix` is the next step for the user. */
export type TailnetProblem =
  | 'TAILSCALE_NOT_INSTALLED'
  | 'TAILSCALE_NOT_RUNNING'
  | 'TAILSCALE_LOGGED_OUT'
  | 'TAILSCALE_STOPPED'
  | 'MAGICDNS_OFF'
  | 'TAILSCALE_FAILED'

export type TailnetIdentity =
  | {
      ok: true
      /** The full MagicDNS name, such as `laptop.tail1234.ts.net`: the RP ID and the host of the origin. */
      dnsName: string
      /** This machine's Tailscale addresses, IPv4 first. */
      addresses: string[]
      /** The tailnet's suffix (`tail1234.ts.net`): shared by every node, never an RP ID. */
      magicDnsSuffix: string | null
      /** Names `tailscale cert` can get a certificate for; empty when HTTPS certificates are off or unknown. */
      certDomains: string[]
    }
  | { ok: false; code: TailnetProblem; message: string; fix: string }

const ADMIN_DNS = 'https://login.tailscale.com/admin/dns'

/** The next step when Tailscale itself is missing, per platform. */
export function installTailscaleHint(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') {
    return 'install the standalone Tailscale app from https://tailscale.com/download/mac (or: brew install --cask tailscale), sign in, and install its CLI (Tailscale menu > Settings > CLI integration)'
  }
  if (platform === 'linux') return 'install it with Tailscale\'s script: curl -fsSL https://tailscale.com/install.sh | sh, then run: sudo tailscale up'
  return 'install it from https://tailscale.com/download, then run: tailscale up'
}

const upCommand = (platform: NodeJS.Platform): string => (platform === 'linux' ? 'sudo tailscale up' : 'tailscale up')

const problem = (code: TailnetProblem, message: string, fix: string): TailnetIdentity => ({ ok: false, code, message, fix })

interface StatusJson {
  BackendState?: unknown
  MagicDNSSuffix?: unknown
  CertDomains?: unknown
  CurrentTailnet?: { MagicDNSSuffix?: unknown; MagicDNSEnabled?: unknown } | null
  Self?: { DNSName?: unknown; TailscaleIPs?: unknown } | null
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/

/** Whether `name` is a plain DNS name (letters, digits, hyphens, dots): safe in a path, an RP ID and a Host check. */
export const isDnsName = (name: string): boolean => HOSTNAME.test(name)

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/**
 * Reads `tailscale status --json` output into this machine's identity. Pure.
 * The fields are ipnstate.Status in Tailscale's source; they may change, so
 * anything unexpected is TAILSCALE_FAILED rather than a guess.
 */
export function parseTailscaleStatus(json: string, platform: NodeJS.Platform = process.platform): TailnetIdentity {
  let st: StatusJson
  try {
    const parsed: unknown = JSON.parse(json)
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object')
    st = parsed as StatusJson
  } catch {
    return problem('TAILSCALE_FAILED', 'tailscale status --json printed something that is not JSON', 'check that tailscale works: tailscale status')
  }
  switch (st.BackendState) {
    case 'Running':
      break
    case 'NeedsLogin':
      return problem('TAILSCALE_LOGGED_OUT', 'Tailscale is logged out', `sign in with: ${upCommand(platform)}`)
    case 'NeedsMachineAuth':
      return problem(
        'TAILSCALE_LOGGED_OUT',
        'this machine waits for approval by a tailnet admin',
        'approve it at https://login.tailscale.com/admin/machines',
      )
    case 'Stopped':
      return problem('TAILSCALE_STOPPED', 'Tailscale is stopped (tailscale down)', `connect with: ${upCommand(platform)}`)
    default:
      return problem(
        'TAILSCALE_NOT_RUNNING',
        `Tailscale is not connected (state ${JSON.stringify(st.BackendState ?? null)})`,
        `wait a moment, or connect with: ${upCommand(platform)}`,
      )
  }
  const suffixRaw = st.CurrentTailnet?.MagicDNSSuffix ?? st.MagicDNSSuffix
  const suffix = typeof suffixRaw === 'string' && suffixRaw !== '' ? suffixRaw.replace(/\.$/, '').toLowerCase() : null
  const dnsName = typeof st.Self?.DNSName === 'string' ? st.Self.DNSName.replace(/\.$/, '').toLowerCase() : ''
  const addresses = strings(st.Self?.TailscaleIPs)
    .filter(isTailnetAddress)
    .sort((a, b) => isIP(a) - isIP(b))
  if (st.CurrentTailnet?.MagicDNSEnabled === false || dnsName === '') {
    return problem('MAGICDNS_OFF', 'MagicDNS is off in this tailnet, so this machine has no name a phone can open', `turn on MagicDNS at ${ADMIN_DNS}`)
  }
  // The RP ID must name this machine alone: never the tailnet suffix, which every node shares.
  if (!isDnsName(dnsName) || (suffix !== null && !dnsName.endsWith(`.${suffix}`))) {
    return problem('TAILSCALE_FAILED', `Tailscale reported an unexpected machine name ${JSON.stringify(dnsName)}`, 'check it with: tailscale status')
  }
  if (addresses.length === 0) {
    return problem('TAILSCALE_FAILED', 'Tailscale is running but reported no address for this machine', 'check it with: tailscale ip')
  }
  return { ok: true, dnsName, addresses, magicDnsSuffix: suffix, certDomains: strings(st.CertDomains).map((d) => d.toLowerCase()) }
}

// tailscaled's "cannot connect" wording differs by platform and version.
const DAEMON_DOWN = /failed to connect|doesn't appear to be running|is tailscale running|tailscaled|connection refused|no such file/i

/**
 * This machine's MagicDNS name and Tailscale addresses, from
 * `tailscale status --json`. Never throws: absent or broken Tailscale is a
 * result with a code and the command that fixes it.
 */
export async function findTailnetIdentity(platform: NodeJS.Platform = process.platform): Promise<TailnetIdentity> {
  const r = await runCommand('tailscale', ['status', '--json', '--peers=false'], {
    timeoutMs: TAILNET_LIMITS.statusTimeoutMs,
    maxBytes: TAILNET_LIMITS.statusOutputBytes,
  })
  switch (r.kind) {
    case 'ok':
      return parseTailscaleStatus(r.stdout, platform)
    case 'missing':
      return problem('TAILSCALE_NOT_INSTALLED', 'Tailscale is not installed (no tailscale command on PATH)', installTailscaleHint(platform))
    case 'timeout':
      return problem(
        'TAILSCALE_FAILED',
        `tailscale status did not answer within ${r.timeoutMs / 1000} s`,
        platform === 'linux' ? 'check tailscaled: sudo systemctl status tailscaled' : 'check that the Tailscale app is running',
      )
    case 'too-large':
      return problem('TAILSCALE_FAILED', `tailscale status printed more than ${r.maxBytes} bytes`, 'check it with: tailscale status')
    case 'failed':
      // Some versions print the JSON status and still exit non-zero when not connected.
      if (r.stdout.trim().startsWith('{')) return parseTailscaleStatus(r.stdout, platform)
      if (DAEMON_DOWN.test(r.stderr)) {
        return problem(
          'TAILSCALE_NOT_RUNNING',
          `Tailscale's daemon is not running (${oneLine(r.stderr)})`,
          platform === 'linux'
            ? 'start it with: sudo systemctl enable --now tailscaled, then: sudo tailscale up'
            : 'open the Tailscale app and connect (or run: tailscale up)',
        )
      }
      return problem('TAILSCALE_FAILED', `tailscale status --json exited ${r.exitCode ?? 'abnormally'}: ${oneLine(r.stderr || r.message)}`, 'check it with: tailscale status')
  }
}

/**
 * Whether tailscaled runs in userspace-networking mode: Tailscale reports
 * addresses but no local interface carries any of them. Then the 100.x
 * address cannot be bound, tailnet connections arrive from 127.0.0.1, and the
 * server must listen on loopback only, warn, and still require a signed-in
 * device. Pure: pass `os.networkInterfaces()`.
 */
export function isUserspaceTailscale(
  addresses: readonly string[],
  interfaces: NodeJS.Dict<readonly { address: string }[]>,
): boolean {
  const local = new Set(
    Object.values(interfaces)
      .flatMap((list) => list ?? [])
      .map((i) => i.address.toLowerCase()),
  )
  return addresses.length > 0 && !addresses.some((a) => local.has(a.toLowerCase()))
}

// ---------------------------------------------------------------- whois

export type WhoisResult =
  | { ok: true; node: string; user: string }
  | {
      ok: false
      /**
       * WHOIS_NOT_TAILNET: not a Tailscale address (loopback included), tailscale was not asked;
       * WHOIS_NOT_FOUND: tailscale knows no peer with that address;
       * WHOIS_EXPIRED: the peer's node key has expired (its admin expired it, or it was never renewed);
       * WHOIS_UNAVAILABLE: tailscale could not answer. All four mean: refuse.
       */
      code: 'WHOIS_NOT_TAILNET' | 'WHOIS_NOT_FOUND' | 'WHOIS_EXPIRED' | 'WHOIS_UNAVAILABLE'
      message: string
    }

interface WhoisJson {
  Node?: { Name?: unknown; ComputedName?: unknown; Expired?: unknown; KeyExpiry?: unknown } | null
  UserProfile?: { LoginName?: unknown } | null
}

/**
 * Reads `tailscale whois --json` output. Pure. A shape it does not know is
 * WHOIS_UNAVAILABLE (fail closed); a node whose key has expired at `now`
 * (`Expired`, or a `KeyExpiry` in the past) is WHOIS_EXPIRED.
 */
export function parseWhois(json: string, address: string, now: number = Date.now()): WhoisResult {
  let w: WhoisJson
  try {
    w = JSON.parse(json) as WhoisJson
  } catch {
    return { ok: false, code: 'WHOIS_UNAVAILABLE', message: `tailscale whois ${address} printed something that is not JSON` }
  }
  const name = typeof w?.Node?.Name === 'string' ? w.Node.Name.replace(/\.$/, '') : ''
  const node = name || (typeof w?.Node?.ComputedName === 'string' ? w.Node.ComputedName : '')
  const user = typeof w?.UserProfile?.LoginName === 'string' ? w.UserProfile.LoginName : ''
  if (!node || !user) return { ok: false, code: 'WHOIS_UNAVAILABLE', message: `tailscale whois ${address} named no node or user` }
  // Go's zero time ("0001-01-01T00:00:00Z") is "never expires".
  const keyExpiry = typeof w.Node?.KeyExpiry === 'string' ? Date.parse(w.Node.KeyExpiry) : Number.NaN
  if (w.Node?.Expired === true || (keyExpiry > 0 && keyExpiry <= now)) {
    return { ok: false, code: 'WHOIS_EXPIRED', message: `the key of tailnet node ${node} has expired` }
  }
  return { ok: true, node, user }
}

/** `fresh`: ask Tailscale now, even with an answer cached (re-checking a live connection). */
export type Whois = (address: string, options?: { fresh?: boolean }) => Promise<WhoisResult>

export interface WhoisOptions {
  cacheMs?: number
  cacheEntries?: number
  now?: () => number
}

/**
 * Makes a `whois(address)` with its own cache. Successful answers are kept
 * `cacheMs` per address (at most `cacheEntries`); failures are never cached
 * and evict the address's earlier answer,
 * and concurrent asks for one address share one `tailscale whois` run.
 */
export function createWhois(options: WhoisOptions = {}): Whois {
  const cacheMs = options.cacheMs ?? TAILNET_LIMITS.whoisCacheMs
  const maxEntries = options.cacheEntries ?? TAILNET_LIMITS.whoisCacheEntries
  const now = options.now ?? Date.now
  const cache = new Map<string, { until: number; result: WhoisResult }>()
  const pending = new Map<string, Promise<WhoisResult>>()

  const ask = async (address: string): Promise<WhoisResult> => {
    const r = await runCommand('tailscale', ['whois', '--json', address], {
      timeoutMs: TAILNET_LIMITS.whoisTimeoutMs,
      maxBytes: TAILNET_LIMITS.whoisOutputBytes,
    })
    switch (r.kind) {
      case 'ok':
        return parseWhois(r.stdout, address, now())
      case 'missing':
        return { ok: false, code: 'WHOIS_UNAVAILABLE', message: 'tailscale whois: Tailscale is not installed' }
      case 'timeout':
        return { ok: false, code: 'WHOIS_UNAVAILABLE', message: `tailscale whois ${address} did not answer within ${r.timeoutMs / 1000} s` }
      case 'too-large':
        return { ok: false, code: 'WHOIS_UNAVAILABLE', message: `tailscale whois ${address} printed more than ${r.maxBytes} bytes` }
      case 'failed':
        if (/not found|no match/i.test(r.stderr)) {
          return { ok: false, code: 'WHOIS_NOT_FOUND', message: `no Tailscale peer has address ${address}` }
        }
        return { ok: false, code: 'WHOIS_UNAVAILABLE', message: `tailscale whois ${address} exited ${r.exitCode ?? 'abnormally'}: ${oneLine(r.stderr || r.message)}` }
    }
  }

  return async function whois(raw, { fresh = false } = {}) {
    const address = plainAddress(raw)
    if (!isTailnetAddress(address)) {
      return { ok: false, code: 'WHOIS_NOT_TAILNET', message: `${JSON.stringify(raw)} is not a Tailscale address, so Tailscale cannot name its node or user` }
    }
    const hit = cache.get(address)
    if (hit && hit.until > now() && !fresh) return hit.result
    cache.delete(address)
    const inFlight = pending.get(address)
    if (inFlight) return inFlight
    const p = ask(address).then((result) => {
      pending.delete(address)
      // A failure also drops what was cached: a node removed or expired is refused from now on, not in 30 s.
      cache.delete(address)
      if (result.ok) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string)
        cache.set(address, { until: now() + cacheMs, result })
      }
      return result
    })
    pending.set(address, p)
    return p
  }
}

/**
 * Names the node and tailnet user behind a peer address with
 * `tailscale whois --json`: 2 s timeout, answers cached 30 s per address.
 * Fails closed: any failure is a result the caller must treat as "refuse".
 */
export const whois: Whois = createWhois()

// ---------------------------------------------------------------- watching

export interface WatchOptions {
  /** The addresses the caller serves on now; without it the first poll only sets the baseline. */
  initial?: readonly string[]
  /** Errors thrown by `onChange`; polling goes on. */
  onError?: (err: unknown) => void
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const sa = new Set(a)
  return sa.size === new Set(b).size && b.every((x) => sa.has(x))
}

/**
 * Polls this machine's Tailscale addresses every `intervalMs` and calls
 * `onChange(addresses)` when the set changes, such as after `tailscale down`
 * (an empty list) and `up` again. A poll that fails for an unknown reason
 * (TAILSCALE_FAILED, such as a timeout) changes nothing. Polls never overlap;
 * an async `onChange` is awaited. Returns `stop()`, which may be called twice.
 */
export function watchTailnetAddresses(
  onChange: (addresses: string[]) => void | Promise<void>,
  intervalMs: number = TAILNET_LIMITS.watchIntervalMs,
  options: WatchOptions = {},
): () => void {
  let current: readonly string[] | undefined = options.initial ? [...options.initial] : undefined
  let stopped = false
  let timer: NodeJS.Timeout | undefined

  const poll = async (): Promise<void> => {
    const id = await findTailnetIdentity()
    if (stopped || (!id.ok && id.code === 'TAILSCALE_FAILED')) return
    const next = id.ok ? id.addresses : []
    if (current === undefined) {
      current = next
      return
    }
    if (sameSet(current, next)) return
    current = next
    try {
      await onChange([...next])
    } catch (err) {
      options.onError?.(err)
    }
  }
  const schedule = (): void => {
    if (stopped) return
    timer = setTimeout(() => void poll().finally(schedule), intervalMs)
    timer.unref()
  }
  schedule()
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}

// ---------------------------------------------------------------- listening

export interface Listening<S extends HttpServer | HttpsServer> {
  port: number
  servers: S[]
  /** `127.0.0.1:7438`, `[fd7a:115c:a1e0::1]:7438`: what `handoff status` shows. */
  listening: string[]
}

/** Throws BAD_CONFIG unless every address is a plain loopback or Tailscale address. */
export function assertServableAddresses(addresses: readonly string[]): void {
  if (addresses.length === 0) throw new HandoffError('BAD_CONFIG', 400, 'no address to listen on')
  for (const address of addresses) {
    const family = familyOf(address)
    if (address === '0.0.0.0' || (family === 'ipv6' && isIP(address) === 6 && /^[0:]+$/.test(address))) {
      throw new HandoffError(
        'BAD_CONFIG',
        400,
        `refusing to listen on ${address}: that is every interface, the LAN included; Handoff listens only on loopback and Tailscale addresses`,
      )
    }
    const plain = family !== undefined && !(family === 'ipv6' && mapped.check(address, 'ipv6'))
    if (!plain || !(isLoopbackAddress(address) || isTailnetAddress(address))) {
      throw new HandoffError(
        'BAD_CONFIG',
        400,
        `refusing to listen on ${JSON.stringify(address)}: not a loopback address (127.0.0.0/8, ::1) or Tailscale address (100.64.0.0/10, fd7a:115c:a1e0::/48); Handoff never serves the LAN`,
      )
    }
  }
}

/** `100.64.0.1:7438`, `[fd7a:…]:7438`. */
export const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)

function listenOne(server: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject)
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : port)
    })
  })
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): HandoffError {
  if (err.code === 'EADDRINUSE') {
    return new HandoffError('PORT_IN_USE', 503, `port ${port} is already in use on ${host}; stop what uses it or pick another with --port or HANDOFF_PORT (0 picks a free one)`)
  }
  if (err.code === 'EADDRNOTAVAIL') {
    const why = isTailnetAddress(host)
      ? 'this machine has no such Tailscale address now (did it change? check with: tailscale ip)'
      : 'this machine has no such address'
    return new HandoffError('LISTEN_FAILED', 503, `cannot listen on ${host} port ${port}: ${why}`, { cause: err })
  }
  if (err.code === 'EACCES') {
    return new HandoffError('LISTEN_FAILED', 503, `cannot listen on ${host} port ${port}: permission denied (ports below 1024 need privileges); pick another with --port`, { cause: err })
  }
  return new HandoffError('LISTEN_FAILED', 503, `cannot listen on ${host} port ${port}: ${err.message}`, { cause: err })
}

const closeAll = (servers: readonly (HttpServer | HttpsServer)[]): Promise<unknown> =>
  Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))

// With port 0 a later address may already use the port the first listen picked: pick again, this many times.
const PORT_PICK_ATTEMPTS = 3

/**
 * Listens on each address with its own server from `createServer`, all on one
 * port: with port 0 the first listen picks it and the rest reuse it. Refuses
 * (BAD_CONFIG, before binding anything) 0.0.0.0, ::, and any address that is
 * not loopback or Tailscale: a guard against ever serving the LAN. A missing
 * ::1 (no IPv6) is skipped; any other address that cannot be bound is
 * LISTEN_FAILED naming it, a taken port PORT_IN_USE; either way every server
 * already listening is closed first.
 *
 * @example const { port, servers } = await listenAll(['100.101.102.103', '127.0.0.1'], 0, () => https.createServer(tls, handler))
 */
export async function listenAll<S extends HttpServer | HttpsServer>(
  addresses: readonly string[],
  port: number,
  createServer: () => S,
): Promise<Listening<S>> {
  assertServableAddresses(addresses)
  for (let attempt = 1; ; attempt++) {
    const servers: S[] = []
    const listening: string[] = []
    let chosen = port
    let failure: { error: HandoffError; retry: boolean } | undefined
    for (const host of addresses) {
      const server = createServer()
      try {
        chosen = await listenOne(server, chosen, host)
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        // A machine without IPv6 loopback still serves on 127.0.0.1.
        if (host === '::1' && (e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT')) continue
        failure = { error: listenError(e, host, chosen), retry: port === 0 && servers.length > 0 && e.code === 'EADDRINUSE' }
        break
      }
      servers.push(server)
      listening.push(hostPort(host, chosen))
    }
    if (failure) {
      await closeAll(servers)
      if (failure.retry && attempt < PORT_PICK_ATTEMPTS) continue
      throw failure.error
    }
    if (servers.length === 0) throw new HandoffError('LISTEN_FAILED', 503, `cannot listen on any of ${addresses.join(', ')}`)
    return { port: chosen, servers, listening }
  }
}
