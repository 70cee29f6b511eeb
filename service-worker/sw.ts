import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import type { PushPayload } from '../protocol/index.js'

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
  return { id: p.id, ts: p.ts, type: text(p.type), title: text(p.title) || 'Handoff', body: text(p.body), tag: text(p.tag), url: text(p.url) || '/' }
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
  const options: NotificationOptions & { renotify?: boolean } = {
    body: p.body, // shown as text by the system, never as HTML
    tag: p.tag || `type:${p.type}`,
    data: { url: sameOriginUrl(p.url) ?? `${self.location.origin}/`, id: p.id },
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

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil(openFromNotification((event.notification.data as { url?: unknown } | null)?.url))
})
