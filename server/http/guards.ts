import type { MiddlewareHandler } from 'hono'
import { HandoffError } from '../errors.js'

/**
 * The exact `Host` values and origins one server answers to. Built once from
 * the addresses it listens on and the port; compared as whole strings, so
 * `localhost.evil.com` or `127.0.0.1.nip.io` never pass.
 */
export interface Audience {
  hosts: ReadonlySet<string>
  origins: ReadonlySet<string>
}

/** `hostnames` as written in a URL (`localhost`, `127.0.0.1`, `[::1]`); the default port is left out, as browsers do. */
export function audienceFor(hostnames: readonly string[], port: number, scheme: 'http' | 'https' = 'http'): Audience {
  const defaultPort = scheme === 'http' ? 80 : 443
  const hosts = hostnames.map((h) => (port === defaultPort ? h : `${h}:${port}`))
  return { hosts: new Set(hosts), origins: new Set(hosts.map((h) => `${scheme}://${h}`)) }
}

/** Null when the Host header names this server, else the refusal. Pure, shared by HTTP and upgrades. */
export function checkHost(audience: Audience, host: string | undefined): HandoffError | null {
  if (host !== undefined && audience.hosts.has(host.toLowerCase())) return null
  return new HandoffError(
    'HOST_NOT_ALLOWED',
    421,
    `this server does not answer to Host ${JSON.stringify(host ?? '')}; open it as ${[...audience.origins][0] ?? 'its own address'}`,
  )
}

/** Null when Origin is exactly this server's own; a missing or `null` Origin is refused (cross-site request defence). */
export function checkOrigin(audience: Audience, origin: string | undefined): HandoffError | null {
  if (origin !== undefined && audience.origins.has(origin)) return null
  return new HandoffError('ORIGIN_MISMATCH', 403, `requests that change state must come from this server's own page (Origin ${JSON.stringify(origin ?? '')} refused)`)
}

/**
 * Fetch metadata, beside the Origin (defence in depth: browsers send both).
 * A write or upgrade whose `Sec-Fetch-Site` says another site (`cross-site`,
 * `same-site`: a sibling name under the same domain) made it is refused,
 * even with the right Origin. `same-origin`, `none` (a typed URL) and no
 * header at all (a client that is not a browser) pass on to the Origin check.
 */
export function checkFetchSite(fetchSite: string | undefined): HandoffError | null {
  if (fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'none') return null
  return new HandoffError(
    'ORIGIN_MISMATCH',
    403,
    `requests that change state must come from this server's own page (Sec-Fetch-Site ${JSON.stringify(fetchSite.slice(0, 40))} refused)`,
  )
}

/** The checks on a write or an upgrade: exact Origin, then fetch metadata. Null lets it through. */
export function checkWrite(audience: Audience, headers: { origin?: string | undefined; fetchSite?: string | undefined }): HandoffError | null {
  return checkOrigin(audience, headers.origin) ?? checkFetchSite(headers.fetchSite)
}

/** Refuses any request whose Host is not this server's (DNS-rebinding defence). */
export const requireHost = (audience: Audience): MiddlewareHandler =>
  async function requireHost(c, next) {
    const refusal = checkHost(audience, c.req.header('host'))
    if (refusal) throw refusal
    await next()
  }

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Refuses writes whose Origin is not this server's own, or whose fetch metadata says another site sent them. */
export const requireOriginOnWrites = (audience: Audience): MiddlewareHandler =>
  async function requireOriginOnWrites(c, next) {
    if (!SAFE_METHODS.has(c.req.method)) {
      const refusal = checkWrite(audience, { origin: c.req.header('origin'), fetchSite: c.req.header('sec-fetch-site') })
      if (refusal) throw refusal
    }
    await next()
  }
