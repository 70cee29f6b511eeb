import { deletePushSubscription, pushKey, pushSubscription, savePushSubscription } from './api.js'
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

/**
 * Whether this phone gets pushes, from what the browser and the computer
 * both say: `lost` is a subscription this browser holds that the computer
 * no longer has (turned off with `handoff devices`, its keys replaced, or
 * expired by the push service).
 */
export type PushState =
  | { kind: 'unsupported' }
  | { kind: 'insecure' }
  | { kind: 'blocked' }
  | { kind: 'off' }
  | { kind: 'lost' }
  | { kind: 'on'; private: boolean }

/** The app's service worker is not installed yet (the first visit, a dev build): nothing to subscribe with. */
export class WorkerMissingError extends Error {
  constructor() {
    super('no service worker')
    this.name = 'WorkerMissingError'
  }
}

/** How long turning on waits for the service worker to finish installing. */
const WORKER_WAIT_MS = 10_000

/** What the browser cannot do at all, before any permission or subscription. */
function limitation(): PushState | undefined {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return { kind: 'unsupported' }
  if (!window.isSecureContext) return { kind: 'insecure' }
  return undefined
}

/** Reads the real state: the browser's support and permission, its subscription, and the computer's record of it. */
export async function readPushState(): Promise<PushState> {
  const limited = limitation()
  if (limited) return limited
  if (Notification.permission === 'denied') return { kind: 'blocked' }
  const [local, server] = await Promise.all([currentSubscription(), pushSubscription()])
  if (local === null) return { kind: 'off' }
  return server?.endpoint === local.endpoint ? { kind: 'on', private: server.private } : { kind: 'lost' }
}

/** Asks for permission; browsers allow it only during a tap, so call it first thing in the handler. */
export function askPermission(): Promise<NotificationPermission> {
  return Notification.requestPermission()
}

/** Subscribes with the computer's key and hands the subscription to the computer (permission granted). */
export async function turnOnPush(isPrivate: boolean): Promise<void> {
  const registration = await workerRegistration()
  const key = fromBase64url(await pushKey())
  let subscription = await registration.pushManager.getSubscription()
  // A subscription made for other keys (the server's vapid.json was replaced) cannot be used.
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe()
    subscription = null
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
  const { keys } = subscription.toJSON()
  await savePushSubscription({ endpoint: subscription.endpoint, keys: { p256dh: keys?.p256dh ?? '', auth: keys?.auth ?? '' }, private: isPrivate })
}

/** Tells the computer to stop, then drops the browser's subscription. */
export async function turnOffPush(): Promise<void> {
  const subscription = await currentSubscription()
  if (!subscription) return
  await deletePushSubscription(subscription.endpoint)
  await subscription.unsubscribe()
}

async function currentSubscription(): Promise<PushSubscription | null> {
  const registration = await navigator.serviceWorker.getRegistration()
  return (await registration?.pushManager.getSubscription()) ?? null
}

/** The installed worker's registration, waiting a little for one still installing. */
async function workerRegistration(): Promise<ServiceWorkerRegistration> {
  if (await navigator.serviceWorker.getRegistration()) return navigator.serviceWorker.ready
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new WorkerMissingError()), WORKER_WAIT_MS)))
  try {
    return await Promise.race([navigator.serviceWorker.ready, late])
  } finally {
    clearTimeout(timer)
  }
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
