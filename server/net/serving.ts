import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { networkInterfaces } from 'node:os'
import type { Duplex } from 'node:stream'
import { HandoffError } from '../errors.js'
import { ensureCertificate } from './cert.js'
import { checkOwnCertificate, watchOwnCertificate, type OwnCertificate } from './own-cert.js'
import {
  findTailnetIdentity,
  hostPort,
  isAllowedPeer,
  isLoopbackAddress,
  isUserspaceTailscale,
  listenAll,
  plainAddress,
  watchTailnetAddresses,
  whois,
} from './tailnet.js'

/** Who a peer is on the network, for the gate's caller and the audit log. */
export interface Peer {
  address: string | null
  /** The tailnet node, from tailscale whois; null on loopback. */
  node: string | null
  /** The tailnet user (login name), from tailscale whois; null on loopback. */
  user: string | null
}

/**
 * Who a peer is, for per-peer limits (pairing and sign-in attempts): its
 * tailnet node where whois named one, else "loopback" for every address of
 * this machine (127.0.0.0/8 and ::1 are one peer, not 16 million), else its
 * address.
 */
export function peerKey(peer: Peer): string {
  if (peer.node !== null) return `node:${peer.node}`
  if (peer.address === null) return 'unknown'
  return isLoopbackAddress(peer.address) ? 'loopback' : `address:${peer.address}`
}

export const SERVING_LIMITS = {
  /** How often the certificate is checked for renewal (ms); it renews with 14 days left. */
  certCheckMs: 12 * 60 * 60_000,
  /** How often the Tailscale addresses are checked for changes (ms). */
  addressCheckMs: 10_000,
} as const

export interface ServingOptions {
  /** `loopback`: http on 127.0.0.1 and ::1. `tailnet`: https on the Tailscale addresses, or loopback (with a note) when that is not possible. */
  mode: 'loopback' | 'tailnet'
  port: number
  home: string
  onRequest: RequestListener
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  log: (line: string) => void
  /** The user's own certificate (`--cert`, `--key`) instead of `tailscale cert`'s. */
  certificate?: OwnCertificate | undefined
  /** Called with `listening` anew when the Tailscale addresses changed and the servers followed. */
  onRebind?: (listening: string[]) => void
}

export interface Serving {
  mode: 'loopback' | 'tailnet'
  port: number
  /** Host names as written in a URL (`localhost`, `[::1]`, `laptop.tail1234.ts.net`). */
  hostnames: string[]
  scheme: 'http' | 'https'
  /** The WebAuthn relying party: `localhost`, or the full MagicDNS name (never the tailnet suffix). */
  rpID: string
  /** The origin pages and passkeys belong to. */
  origin: string
  listening: string[]
  /** Why the server runs as it does (fallbacks, userspace networking), one line each. */
  notes: string[]
  /** Names the peer (`fresh`: without the whois cache); throws PEER_UNVERIFIED when a tailnet peer cannot be named. */
  peerOf(address: string | null, options?: { fresh?: boolean }): Promise<Peer>
  close(): Promise<void>
}

const LOOPBACK = { addresses: ['127.0.0.1', '::1'], hostnames: ['localhost', '127.0.0.1', '[::1]'] }

const closeServer = (s: Server | HttpsServer) =>
  new Promise<void>((resolve) => {
    s.close(() => resolve())
    s.closeAllConnections()
  })

/** Drops, before any byte of TLS or HTTP, a connection whose source is not allowed in this mode. */
function guardPeers<S extends Server | HttpsServer>(server: S, mode: 'loopback' | 'tailnet'): S {
  server.on('connection', (socket) => {
    if (!isAllowedPeer(socket.remoteAddress ?? '', mode)) socket.destroy()
  })
  return server
}

async function serveLoopback(options: ServingOptions, notes: string[]): Promise<Serving> {
  const { port, servers, listening } = await listenAll(LOOPBACK.addresses, options.port, () => {
    const server = guardPeers(createHttpServer(options.onRequest), 'loopback')
    server.on('upgrade', options.onUpgrade)
    return server
  })
  return {
    mode: 'loopback',
    port,
    hostnames: LOOPBACK.hostnames,
    scheme: 'http',
    rpID: 'localhost',
    origin: `http://localhost:${port}`,
    listening,
    notes,
    peerOf: async (address) => ({ address, node: null, user: null }),
    close: async () => void (await Promise.all(servers.map(closeServer))),
  }
}

type Tls = { cert: Buffer; key: Buffer }

/** Where the HTTPS certificate comes from, and how it is kept fresh: `renew` calls `apply` with each new one and returns stop(). */
interface TlsSource {
  tls: Tls
  renew(apply: (tls: Tls) => void): () => void
}

/** `tailscale cert`'s certificate in HOME/tls, checked twice a day and renewed with 14 days left; a note (serve on loopback) when Tailscale cannot give one. */
async function tailscaleTls(options: ServingOptions, dnsName: string): Promise<TlsSource | string> {
  const cert = await ensureCertificate(options.home, dnsName)
  if (!cert.ok) return `no HTTPS certificate: ${cert.message}; serving on loopback only. ${cert.fix}`
  return {
    tls: { cert: await readFile(cert.certPath), key: await readFile(cert.keyPath) },
    renew(apply) {
      const timer = setInterval(async () => {
        const next = await ensureCertificate(options.home, dnsName)
        if (!next.ok) return options.log(`certificate renewal failed: ${next.message}. ${next.fix}`)
        if (!next.renewed) return
        apply({ cert: await readFile(next.certPath), key: await readFile(next.keyPath) })
        options.log(`certificate renewed, valid until ${next.notAfter.toISOString()}`)
      }, SERVING_LIMITS.certCheckMs)
      timer.unref()
      return () => clearInterval(timer)
    },
  }
}

/**
 * The user's own certificate: refused at start (CERT_INVALID, with the fix)
 * unless it names `dnsName`, is valid and matches its private key. Reloaded
 * when either file changes and checked twice a day; a changed pair that fails
 * the check is logged and the one in use kept.
 */
async function ownTls(files: OwnCertificate, dnsName: string, log: (line: string) => void): Promise<TlsSource> {
  const first = await checkOwnCertificate(files, dnsName)
  if (!first.ok) throw new HandoffError('CERT_INVALID', 400, `${first.message}; to fix: ${first.fix}`)
  return {
    tls: first.tls,
    renew(apply) {
      let current = first.tls
      const reload = async () => {
        const next = await checkOwnCertificate(files, dnsName)
        if (!next.ok) return log(`certificate not reloaded: ${next.message}; still serving the previous one. To fix: ${next.fix}`)
        if (next.tls.cert.equals(current.cert) && next.tls.key.equals(current.key)) return
        current = next.tls
        apply(next.tls)
        log(`certificate reloaded from ${files.certPath}, valid until ${next.notAfter.toISOString()}`)
      }
      const stopWatching = watchOwnCertificate(files, () => void reload())
      const timer = setInterval(() => void reload(), SERVING_LIMITS.certCheckMs)
      timer.unref()
      return () => {
        stopWatching()
        clearInterval(timer)
      }
    },
  }
}

/**
 * Starts listening as the mode asks: on the tailnet over HTTPS with the
 * machine's MagicDNS name and certificate when Tailscale allows it, else on
 * loopback, saying why in `notes`. Never on 0.0.0.0, ::, or a LAN address.
 */
export async function startServing(options: ServingOptions): Promise<Serving> {
  if (options.mode === 'loopback') return serveLoopback(options, [])
  const id = await findTailnetIdentity()
  if (!id.ok) return serveLoopback(options, [`${id.message}; serving on loopback only. ${id.fix}`])
  if (isUserspaceTailscale(id.addresses, networkInterfaces())) {
    return serveLoopback(options, [
      'tailscaled runs in userspace mode, so its addresses cannot be bound; serving on loopback only. Tailnet peers reach it through tailscale serve and arrive from 127.0.0.1: every request still needs a signed-in device',
    ])
  }
  const source = options.certificate ? await ownTls(options.certificate, id.dnsName, options.log) : await tailscaleTls(options, id.dnsName)
  if (typeof source === 'string') return serveLoopback(options, [source])
  let tls = source.tls
  const byAddress = new Map<string, HttpsServer>()
  const make = () => {
    const server = guardPeers(createHttpsServer(tls, options.onRequest), 'tailnet')
    server.on('upgrade', options.onUpgrade)
    return server
  }
  const first = await listenAll(id.addresses, options.port, make)
  const port = first.port
  id.addresses.forEach((address, i) => {
    const server = first.servers[i]
    if (server) byAddress.set(address, server)
  })
  const listening = [...first.listening]

  // Addresses change (a new network, tailscale down and up): follow them on the same port.
  const stopWatching = watchTailnetAddresses(
    async (addresses) => {
      for (const [address, server] of byAddress) {
        if (!addresses.includes(address)) {
          byAddress.delete(address)
          await closeServer(server)
        }
      }
      const added = addresses.filter((a) => !byAddress.has(a))
      if (added.length > 0) {
        try {
          const more = await listenAll(added, port, make)
          added.forEach((address, i) => {
            const server = more.servers[i]
            if (server) byAddress.set(address, server)
          })
        } catch (err) {
          options.log(`cannot listen on ${added.join(', ')}: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
      listening.splice(0, listening.length, ...[...byAddress.keys()].map((a) => hostPort(a, port)))
      options.log(listening.length > 0 ? `now listening on ${listening.join(', ')}` : 'Tailscale has no addresses now: listening on none until it comes back')
      options.onRebind?.([...listening])
    },
    SERVING_LIMITS.addressCheckMs,
    { initial: id.addresses, onError: (err: unknown) => options.log(`checking Tailscale addresses: ${err instanceof Error ? err.message : String(err)}`) },
  )

  const stopRenewing = source.renew((next) => {
    tls = next
    for (const server of byAddress.values()) server.setSecureContext(tls)
  })

  return {
    mode: 'tailnet',
    port,
    hostnames: [id.dnsName],
    scheme: 'https',
    rpID: id.dnsName,
    origin: `https://${id.dnsName}:${port}`,
    listening,
    notes: [],
    async peerOf(address, { fresh = false } = {}) {
      if (address === null) throw new HandoffError('PEER_UNVERIFIED', 403, 'the connection has no peer address')
      // Loopback peers cannot be named by whois; they still need a signed-in device like anyone.
      if (isLoopbackAddress(address)) return { address, node: null, user: null }
      const who = await whois(plainAddress(address), { fresh })
      if (!who.ok) throw new HandoffError('PEER_UNVERIFIED', 403, `cannot tell which tailnet node ${address} is (${who.message}); access is refused until tailscale whois works`)
      return { address, node: who.node, user: who.user }
    },
    async close() {
      stopWatching()
      stopRenewing()
      await Promise.all([...byAddress.values()].map(closeServer))
    },
  }
}
