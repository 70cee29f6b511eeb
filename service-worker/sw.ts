import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import type { AnswerSentJson, ErrorBody, PushPayload } from '../protocol/index.js'

declare const self: ServiceWorkerGlobalScope

// The build's own files (hashed assets, index.html), listed by
// vite-plugin-pwa at build time. Nothing else is ever cached: there is no
// runtime caching, so /api/ answers (live tmux state) always come from the server.
precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()

// Deep links (/t/SESSION/WINDOW) open from the precached app shell, offline
// too. API paths are never answered with the shell.
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [/^\/api\//] }))

// No automatic skipWaiting/clientsClaim: a new version waits until every tab
// is closed, so a running terminal never changes code underneath, unless the
// user taps "Update available" (web/shell/update.ts sends SKIP_WAITING through
// workbox-window's messageSkipWaiting; every tab then reloads).
self.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'SKIP_WAITING') void self.skipWaiting()
})

// ---- Web Push (docs/notifications.md#web-push) ----

/**
 * A push older than this is dropped: the server pushes events up to an hour
 * old and the push service holds one for at most an hour (TTL), so anything
 * older is a re-delivery or a clock gone wrong.
 */
const STALE_AFTER_MS = 2 * 60 * 60_000
/** Ids of pushes already shown, kept in the Cache API so a restarted worker still knows them. */
const SEEN_CACHE = 'handoff-push-seen'
const SEEN_KEEP = 200

function parsePayload(data: PushMessageData | null): PushPayload | undefined {
  let value: unknown
  try {
    value = data?.json()
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const p = value as Record<string, unknown>
  const text = (v: unknown) => (typeof v === 'string' ? v : '')
  if (typeof p.id !== 'number' || typeof p.ts !== 'string') return undefined
  const payload: PushPayload = { id: p.id, ts: p.ts, type: text(p.type), title: text(p.title) || 'Handoff', body: text(p.body), tag: text(p.tag), url: text(p.url) || '/' }
  const choices = Array.isArray(p.choices) ? p.choices.filter((c): c is string => typeof c === 'string' && c !== '') : []
  return choices.length > 0 ? { ...payload, choices } : payload
}

/** What a notification of Handoff's carries in `data`. */
interface NotificationData {
  url: string
  id: number
  /** The event's choices, by index, when it offers any. */
  choices?: string[]
}

/** `showNotification`'s options as Chromium takes them (the DOM types lack `actions` and `renotify`). */
type ShowOptions = NotificationOptions & { renotify?: boolean; actions?: { action: string; title: string }[] }

/**
 * Buttons for the choices, as many as the platform shows (none on iOS). With
 * fewer than there are choices, the first ones and the last: the last is
 * usually the way out ("No"). The action is the choice's index.
 */
function actionsFor(choices: readonly string[]): { action: string; title: string }[] {
  const max = typeof Notification === 'undefined' ? 0 : ((Notification as unknown as { maxActions?: number }).maxActions ?? 0)
  const all = choices.map((title, i) => ({ action: String(i), title }))
  if (all.length <= max) return all
  return max <= 0 ? [] : [...all.slice(0, max - 1), ...all.slice(-1)]
}

/** True the first time an id is seen; remembers it (the newest SEEN_KEEP). */
async function firstSighting(p: PushPayload): Promise<boolean> {
  const key = new Request(`/__handoff/push-seen/${encodeURIComponent(`${p.id}:${p.ts}`)}`)
  try {
    const cache = await caches.open(SEEN_CACHE)
    if (await cache.match(key)) return false
    await cache.put(key, new Response(''))
    const keys = await cache.keys()
    await Promise.all(keys.slice(0, Math.max(0, keys.length - SEEN_KEEP)).map((k) => cache.delete(k)))
  } catch {
    // No cache storage (private mode): show it rather than risk dropping it.
  }
  return true
}

/** Only paths of this origin: a push can never send the app elsewhere. */
function sameOriginUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw, self.location.origin)
    return url.origin === self.location.origin ? url.href : undefined
  } catch {
    return undefined
  }
}

async function onPush(data: PushMessageData | null): Promise<void> {
  const p = parsePayload(data)
  // iOS revokes the subscription of a web app whose pushes show nothing, so
  // every push shows something; the server, not the worker, decides to stay quiet.
  if (!p) return self.registration.showNotification('Handoff', { body: 'Something needs your attention.', tag: 'handoff', data: { url: '/' } })
  const age = Date.now() - Date.parse(p.ts)
  if (age > STALE_AFTER_MS) return
  const fresh = await firstSighting(p)
  const shown: NotificationData = { url: sameOriginUrl(p.url) ?? `${self.location.origin}/`, id: p.id, ...(p.choices ? { choices: p.choices } : {}) }
  const options: ShowOptions = {
    body: p.body, // shown as text by the system, never as HTML
    tag: p.tag || `type:${p.type}`,
    data: shown,
    ...(p.choices ? { actions: actionsFor(p.choices) } : {}),
    // No icon or badge yet: the app ships none (add them with the PWA's icons).
    renotify: false,
    // A re-delivered push replaces its own notification without a sound or buzz.
    silent: !fresh,
  }
  await self.registration.showNotification(p.title, options)
}

self.addEventListener('push', (event) => {
  event.waitUntil(onPush(event.data))
})

/** Focuses an open Handoff window and sends it to the tab, or opens one. */
async function openFromNotification(rawUrl: unknown): Promise<void> {
  const url = sameOriginUrl(typeof rawUrl === 'string' ? rawUrl : '/')
  if (!url) return
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  for (const client of windows) {
    if (new URL(client.url).origin !== self.location.origin) continue
    const focused = await client.focus().catch(() => client)
    // navigate() works only for windows this worker controls; otherwise open a new one.
    const moved = await focused.navigate(url).catch(() => null)
    if (moved) return
  }
  await self.clients.openWindow(url)
}

// The click's navigation, callable from DevTools: Chromium cannot click a
// system notification in tests, so tests/push-browser.test.ts calls this.
;(self as unknown as { handoffOpenFromNotification: typeof openFromNotification }).handoffOpenFromNotification = openFromNotification

/** How long the note saying an answer was sent stays up. */
const ANSWER_NOTE_MS = 4_000

/** What an answer from a notification came to: sent, or the server's refusal (code and sentence). */
type AnswerOutcome = { ok: true; label: string } | { ok: false; code: string; message: string }

async function postAnswer(id: number, choice: number): Promise<AnswerOutcome> {
  try {
    // Same origin, with the sign-in cookie: the server checks Origin and fetch metadata as for any write.
    const response = await fetch(`/api/events/${id}/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ choice }),
      credentials: 'same-origin',
      cache: 'no-store',
    })
    const body = (await response.json().catch(() => null)) as (AnswerSentJson & Partial<ErrorBody>) | null
    if (response.ok && body) return { ok: true, label: body.label }
    return { ok: false, code: body?.error?.code ?? `HTTP_${response.status}`, message: body?.error?.message ?? `the server answered ${response.status}` }
  } catch {
    return { ok: false, code: 'NETWORK_ERROR', message: 'the computer could not be reached' }
  }
}

/**
 * A notification action: sends the choice to the exact pane through the
 * server (`POST /api/events/ID/answer`). Says briefly that it was sent; a
 * refusal replaces the notification with why, and a tap on that opens the tab
 * with the choices (the `?answer=` marker), where it can be answered again.
 */
async function answerFromNotification(rawData: unknown, action: string): Promise<AnswerOutcome> {
  const data = rawData as Partial<NotificationData> | null
  const choice = Number(action)
  if (typeof data?.id !== 'number' || !/^\d+$/.test(action) || !data.choices?.[choice]) return { ok: false, code: 'UNKNOWN_CHOICE', message: 'this notification has no such choice' }
  const outcome = await postAnswer(data.id, choice)
  const tag = `answer:${data.id}`
  const url = sameOriginUrl(typeof data.url === 'string' ? data.url : '/') ?? `${self.location.origin}/`
  if (outcome.ok) {
    await self.registration.showNotification(`Sent “${outcome.label}”`, { tag, silent: true, data: { url, id: data.id } })
    await new Promise((resolve) => setTimeout(resolve, ANSWER_NOTE_MS))
    for (const note of await self.registration.getNotifications({ tag })) note.close()
  } else {
    await self.registration.showNotification(`Not sent: “${data.choices[choice]}”`, { tag, body: outcome.message, data: { url, id: data.id } })
  }
  return outcome
}

// Callable from DevTools like the click's navigation: tests call it with a notification's data and an action.
;(self as unknown as { handoffAnswerFromNotification: typeof answerFromNotification }).handoffAnswerFromNotification = answerFromNotification

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const data = event.notification.data as { url?: unknown } | null
  event.waitUntil(event.action ? answerFromNotification(data, event.action).then(() => undefined) : openFromNotification(data?.url))
})
