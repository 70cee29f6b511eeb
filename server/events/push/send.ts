import { request, type Agent } from 'node:https'
import type { Socket } from 'node:net'
import type { RequestDetails } from 'web-push'
import { checkPeer, type AddressPolicy } from './address.js'
import { checkEndpoint } from './endpoint.js'
import { PUSH_LIMITS } from './limits.js'
import type { PushSubscriptionRecord } from './subscriptions.js'
import type { VapidKeys } from './vapid.js'

/** How one try went, by what the caller should do next. */
export type SendOutcome =
  | { kind: 'sent'; status: number }
  /** 404/410: the subscription is dead; delete it. */
  | { kind: 'gone'; status: number }
  /** 429, 5xx, a timeout or a network failure: try again later. */
  | { kind: 'retry'; status: number | null; retryAfterMs: number | null; reason: string }
  /** Anything else (another 4xx, a redirect, a refused endpoint or address): do not try again. */
  | { kind: 'failed'; status: number | null; reason: string }

export interface SendOptions extends AddressPolicy {
  vapid: VapidKeys
  /** VAPID `sub`: `mailto:` or the server's https origin. */
  subject: string
  agent: Agent
  ttl: number
  urgency: 'very-low' | 'low' | 'normal' | 'high'
  topic?: string
  timeoutMs?: number
}

/**
 * Sends one encrypted push (RFC 8030/8291/8292) with node:https rather than
 * web-push's own sender, which has no overall deadline, buffers whole
 * responses and may use a proxy. web-push still builds the request: the
 * aes128gcm encryption and the VAPID signature. The endpoint is checked again
 * here, the connection goes through the guarded agent, and the connected
 * peer is checked before any byte of the request is written.
 */
export async function sendPush(sub: PushSubscriptionRecord, payload: Buffer, options: SendOptions): Promise<SendOutcome> {
  const endpoint = checkEndpoint(sub.endpoint, options)
  if (!endpoint.ok) return { kind: 'failed', status: null, reason: `refused endpoint: ${endpoint.reason}` }
  let details: RequestDetails
  try {
    // Loaded on the first push: most servers idle with no subscription at all.
    const { default: webpush } = await import('web-push')
    details = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, payload, {
      vapidDetails: { subject: options.subject, publicKey: options.vapid.publicKey, privateKey: options.vapid.privateKey },
      TTL: options.ttl,
      urgency: options.urgency,
      contentEncoding: 'aes128gcm',
      ...(options.topic === undefined ? {} : { topic: options.topic }),
    })
  } catch (err) {
    return { kind: 'failed', status: null, reason: `could not build the push: ${(err as Error).message}` }
  }
  return post(endpoint.value, details, options)
}

function post(url: URL, details: RequestDetails, options: SendOptions): Promise<SendOutcome> {
  const timeoutMs = options.timeoutMs ?? PUSH_LIMITS.sendTimeoutMs
  return new Promise((resolve) => {
    let settled = false
    // A complete answer leaves the connection to the agent for reuse; anything else drops it.
    const finish = (outcome: SendOutcome, complete = false) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      if (!complete) req.destroy()
      resolve(outcome)
    }
    const req = request(url, {
      method: 'POST',
      headers: details.headers as Record<string, string | number>,
      agent: options.agent,
      // Never follow anything: node:https does not follow redirects by itself.
    })
    // One deadline for everything: DNS, connect, TLS, the request and the response.
    const deadline = setTimeout(
      () => finish({ kind: 'retry', status: null, retryAfterMs: null, reason: `no complete answer within ${timeoutMs} ms` }),
      timeoutMs,
    )
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'BlockedAddressError') finish({ kind: 'failed', status: null, reason: err.message })
      else finish({ kind: 'retry', status: null, retryAfterMs: null, reason: err.message })
    })
    // Written only once the peer is known to be allowed (an IP literal skips the guarded lookup).
    const writeBody = (socket: Socket) => {
      const refused = checkPeer(socket, options)
      if (refused) return finish({ kind: 'failed', status: null, reason: refused.message })
      req.end(details.body ?? undefined)
    }
    req.on('socket', (socket: Socket) => {
      if (socket.remoteAddress !== undefined && !socket.connecting) writeBody(socket)
      else socket.once('connect', () => writeBody(socket))
    })
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      let received = 0
      res.on('data', (chunk: Buffer) => {
        received += chunk.length
        // The answer's body is never needed; past the cap, stop reading and drop the connection.
        if (received > PUSH_LIMITS.responseBytes) finish(outcomeFor(status, res.headers['retry-after'], ` (response cut at ${PUSH_LIMITS.responseBytes} bytes)`))
      })
      res.on('end', () => finish(outcomeFor(status, res.headers['retry-after'], ''), true))
      res.on('error', () => finish(outcomeFor(status, res.headers['retry-after'], '')))
    })
  })
}

function outcomeFor(status: number, retryAfter: string | undefined, note: string): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent', status }
  if (status === 404 || status === 410) return { kind: 'gone', status }
  if (status === 429 || status >= 500) return { kind: 'retry', status, retryAfterMs: parseRetryAfter(retryAfter), reason: `push service answered ${status}${note}` }
  return { kind: 'failed', status, reason: `push service answered ${status}${note}` }
}

/** `Retry-After` in seconds or as an HTTP date, in ms; null when absent or unreadable. */
export function parseRetryAfter(raw: string | undefined, now = Date.now()): number | null {
  if (raw === undefined) return null
  if (/^\d{1,9}$/.test(raw.trim())) return Number(raw.trim()) * 1000
  const at = Date.parse(raw)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}
