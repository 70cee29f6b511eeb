import { ApiError } from './api.js'
import { h } from './dom.js'
import type { DisposableStore } from './lifetime.js'
import type { TerminalTarget } from './terminal/socket.js'
import type { TabTag } from '../protocol/index.js'

/** The tag a tab's notifications carry (server/events/push/payload.ts): a newer one replaces the older. */
export const tabTag = (target: TerminalTarget): TabTag => `tab:${target.session}:${target.window}`

/** Closes the notifications of a tab the user has just opened. Best effort: no worker, no notifications. */
export async function clearTabNotifications(target: TerminalTarget): Promise<void> {
  if (!('serviceWorker' in navigator)) return
  try {
    const registration = await navigator.serviceWorker.getRegistration()
    for (const n of (await registration?.getNotifications({ tag: tabTag(target) })) ?? []) n.close()
  } catch {
    // Notifications are a convenience; the terminal works without them.
  }
}

type ServerSubscription = { endpoint: string; private: boolean } | null

/**
 * The "Notifications" switch for the sessions screen: asks permission on a
 * tap (browsers refuse it otherwise), subscribes with the server's VAPID key,
 * and shows the state; plus "private notifications" (title only) and a test button.
 */
export function notificationsPanel(store: DisposableStore): HTMLElement {
  const toggle = h('input', { type: 'checkbox', role: 'switch', 'data-testid': 'notifications-switch', disabled: true })
  const privacy = h('input', { type: 'checkbox', 'data-testid': 'notifications-private', disabled: true })
  const test = h('button', { type: 'button', class: 'quiet', 'data-testid': 'notifications-test', disabled: true }, 'Send a test notification')
  const state = h('p', { class: 'muted', role: 'status', 'data-testid': 'notifications-state' }, 'Checking notifications…')
  const panel = h(
    'section',
    { class: 'notifications', 'data-testid': 'notifications' },
    h('label', { class: 'row' }, toggle, ' Notifications'),
    h('label', { class: 'row' }, privacy, ' Private notifications (title only, no message)'),
    test,
    state,
  )

  let busy = false
  const show = (on: boolean, isPrivate: boolean, text: string, usable = true) => {
    toggle.checked = on
    toggle.disabled = !usable
    privacy.checked = isPrivate
    privacy.disabled = !on
    test.disabled = !on
    state.textContent = text
    panel.dataset.state = on ? 'on' : 'off'
  }
  const run = (task: () => Promise<void>) => async () => {
    if (busy) return
    busy = true
    try {
      await task()
    } catch (error) {
      state.textContent = error instanceof Error ? error.message : String(error)
    } finally {
      busy = false
    }
  }

  const support = unsupportedReason()
  if (support) {
    show(false, false, support, false)
    return panel
  }

  async function refresh(): Promise<void> {
    if (Notification.permission === 'denied') return show(false, false, 'Notifications are blocked for this site in the browser settings.', false)
    const [local, server] = await Promise.all([currentSubscription(), call<{ subscription: ServerSubscription }>('GET', '/api/push/subscription')])
    const on = local !== null && server.subscription?.endpoint === local.endpoint
    show(on, on && server.subscription?.private === true, on ? 'Notifications are on for this phone.' : 'Notifications are off.')
  }

  async function enable(isPrivate: boolean): Promise<void> {
    state.textContent = 'Turning notifications on…'
    const registration = await readyRegistration()
    const { publicKey } = await call<{ publicKey: string }>('GET', '/api/push/key')
    const key = fromBase64url(publicKey)
    let sub = await registration.pushManager.getSubscription()
    // A subscription made for other keys (the server's vapid.json was replaced) cannot be used.
    if (sub && !sameKey(sub.options.applicationServerKey, key)) {
      await sub.unsubscribe()
      sub = null
    }
    sub ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
    const json = sub.toJSON()
    await call('POST', '/api/push/subscription', { endpoint: sub.endpoint, keys: { p256dh: json.keys?.p256dh, auth: json.keys?.auth }, private: isPrivate })
    await refresh()
  }

  async function disable(): Promise<void> {
    const sub = await currentSubscription()
    if (sub) {
      await call('DELETE', '/api/push/subscription', { endpoint: sub.endpoint })
      await sub.unsubscribe()
    }
    await refresh()
  }

  store.listen(
    toggle,
    'change',
    run(async () => {
      if (!toggle.checked) return disable()
      // Asked inside the tap itself: browsers ignore a permission request made later.
      const permission = await Notification.requestPermission()
      if (permission !== 'granted') {
        show(false, false, permission === 'denied' ? 'Notifications are blocked for this site in the browser settings.' : 'Notifications were not allowed.', permission !== 'denied')
        return
      }
      await enable(privacy.checked)
    }),
  )
  store.listen(privacy, 'change', run(() => enable(privacy.checked)))
  store.listen(
    test,
    'click',
    run(async () => {
      state.textContent = 'Sending a test notification…'
      await call('POST', '/api/push/test', {})
      state.textContent = 'Test notification sent. It should arrive in a few seconds.'
    }),
  )
  void run(refresh)()
  return panel
}

function unsupportedReason(): string | undefined {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    return 'This browser cannot receive notifications here. On an iPhone, add Handoff to the home screen first.'
  }
  if (!window.isSecureContext) return 'Notifications need Handoff over https (handoff serve on the tailnet).'
  return undefined
}

async function currentSubscription(): Promise<PushSubscription | null> {
  const registration = await navigator.serviceWorker.getRegistration()
  return (await registration?.pushManager.getSubscription()) ?? null
}

async function readyRegistration(): Promise<ServiceWorkerRegistration> {
  const registration = await navigator.serviceWorker.getRegistration()
  if (!registration) throw new Error('The app is still installing its service worker; reload the page and try again.')
  return navigator.serviceWorker.ready
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
  return Uint8Array.from(raw, (c) => c.charCodeAt(0))
}

function sameKey(current: ArrayBuffer | null, wanted: Uint8Array): boolean {
  if (!current) return false
  const a = new Uint8Array(current)
  return a.length === wanted.length && a.every((b, i) => b === wanted[i])
}

async function call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      cache: 'no-store',
    })
  } catch (cause) {
    throw new ApiError('NETWORK_ERROR', 0, `Could not reach the Handoff server (${String(cause)}).`)
  }
  const text = await response.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`
    throw new ApiError(code, response.status, typeof error?.message === 'string' ? error.message : `The server answered ${response.status}.`)
  }
  return json as T
}
