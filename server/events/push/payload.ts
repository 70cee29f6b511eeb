import { createHmac } from 'node:crypto'
import type { PushPayload, TabTag } from '../../../protocol/index.js'
import { CHOICE_LIMITS } from '../choices.js'
import { offersChoices, tabOf, type PushEvent } from './event.js'
import { DEFAULT_PUSH_TTL_S, PUSH_LIMITS, PUSH_TTL_S } from './limits.js'

export type { PushPayload }

// Control characters and bidirectional overrides never reach a lock screen.
const UNSAFE = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu

/** Plain text, control characters replaced by spaces, at most `max` code points. */
export function cleanText(raw: string, max: number): string {
  const clean = raw.replace(UNSAFE, ' ').replace(/ {2,}/g, ' ').trim()
  const points = [...clean]
  return points.length <= max ? clean : `${points.slice(0, max - 1).join('')}…`
}

export const tagFor = (event: PushEvent): TabTag | `type:${string}` => {
  const tab = tabOf(event)
  return tab ? `tab:${tab.session}:${tab.window}` : `type:${event.type}`
}

export const urlFor = (event: PushEvent): string => {
  const tab = tabOf(event)
  return tab ? `/t/${encodeURIComponent(tab.session)}/${tab.window}` : '/'
}

/**
 * The notification for `event`; with `privateBody` the title only. With
 * `mayAnswer` (the device is not read-only) an event that offers choices
 * carries their labels, and its url the `?answer=ID` marker that makes the
 * app show them: a device that cannot answer gets neither.
 */
export function payloadFor(event: PushEvent, privateBody: boolean, mayAnswer = false): PushPayload {
  const tab = tabOf(event)
  const title = cleanText(event.title ?? '', PUSH_LIMITS.titleChars) || (tab ? `${tab.session}:${tab.window}` : 'Handoff')
  const payload: PushPayload = {
    id: event.id,
    ts: event.ts,
    type: cleanText(event.type, 32),
    title,
    body: privateBody ? '' : cleanText(event.message, PUSH_LIMITS.bodyChars),
    tag: tagFor(event),
    url: urlFor(event),
  }
  if (!mayAnswer || !offersChoices(event)) return payload
  return { ...payload, url: `${payload.url}?answer=${event.id}`, choices: (event.choices ?? []).map((c) => cleanText(c.label, CHOICE_LIMITS.labelChars)) }
}

/**
 * The payload as JSON padded with spaces to the smallest bucket that fits,
 * so the push service learns only the bucket, not the length of the text.
 * A payload too long for the largest bucket loses body, then title, characters.
 */
export function encodePayload(payload: PushPayload): Buffer {
  const buckets = PUSH_LIMITS.payloadBuckets
  const largest = buckets[buckets.length - 1] as number
  let p = payload
  for (;;) {
    const json = Buffer.from(JSON.stringify(p))
    const over = json.length - largest
    if (over <= 0) {
      const bucket = buckets.find((b) => b >= json.length) as number
      return Buffer.concat([json, Buffer.alloc(bucket - json.length, 0x20)])
    }
    if (p.body !== '') p = { ...p, body: shorten(p.body, over) }
    else if ([...p.title].length > 1) p = { ...p, title: shorten(p.title, over) || '…' }
    // A session name too long for any bucket: the notification opens the list instead, and cannot be answered.
    else {
      const { choices: _dropped, ...rest } = p
      p = { ...rest, tag: `type:${p.type}`, url: '/' }
    }
  }
}

/** Drops enough code points (each ≥ 1 byte) to save `overBytes` even after adding the ellipsis. */
function shorten(text: string, overBytes: number): string {
  const points = [...text]
  const keep = points.length - overBytes - 3
  return keep > 0 ? `${points.slice(0, keep).join('')}…` : ''
}

/** TTL in seconds: an hour for `notify`/`error`, 15 minutes for `stop`, 30 for the rest. */
export const ttlFor = (type: string): number => (Object.hasOwn(PUSH_TTL_S, type) ? (PUSH_TTL_S[type] as number) : DEFAULT_PUSH_TTL_S)

export const urgencyFor = (type: string): 'high' | 'normal' => (type === 'notify' || type === 'error' ? 'high' : 'normal')

/**
 * The `Topic` header: the push service keeps only the newest undelivered push
 * per topic, so one per tab. The service sees it in clear, so it is an HMAC
 * of the device and the tab under a server secret: base64url, 32 characters,
 * never the session name, and unlinkable across devices.
 */
export function topicFor(topicKey: string, deviceId: string, event: PushEvent): string {
  return createHmac('sha256', Buffer.from(topicKey, 'base64url')).update(`${deviceId}\n${tagFor(event)}`).digest().subarray(0, 24).toString('base64url')
}
