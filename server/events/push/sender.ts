import type { Agent } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import { decide } from '../../gate/index.js'
import { grantOf } from '../../access/index.js'
import { readDevices, type DeviceRecord } from '../../store/index.js'
import { createPushAgent, type AddressPolicy } from './address.js'
import { tabOf, type PushEvent } from './event.js'
import { PUSH_LIMITS } from './limits.js'
import { encodePayload, payloadFor, topicFor, ttlFor, urgencyFor } from './payload.js'
import { sendPush, type SendOutcome } from './send.js'
import { readSubscriptions, updateSubscriptions, type PushSubscriptionRecord } from './subscriptions.js'
import type { VapidKeys } from './vapid.js'

/** A terminal socket open right now: which device shows which tab, and whether its page is visible. */
export interface Viewer {
  deviceId: string
  session: string
  window: number
  visible: boolean
}

export interface PushSenderOptions {
  home: string
  vapid: VapidKeys
  /** VAPID `sub`; see vapidSubject(). */
  subject: string
  /** The event pipeline's subscribe; the sender asks for the backlog (events written while the server was down). */
  subscribe?: (listener: (event: PushEvent) => void, options?: { backlog?: boolean }) => () => void
  /** Open terminals, for suppression: the terminal server's `viewers()`. */
  viewers: () => readonly Viewer[]
  now?: () => number
  log?: (line: string) => void
  /** Test-only: allow a loopback endpoint (and trust `caForTests`). Never set in production, never read from the environment. */
  allowLoopbackEndpointForTests?: boolean
  caForTests?: string | Buffer
  /** Overrides of PUSH_LIMITS (tests shorten the time ones). */
  limits?: Partial<Record<'sendTimeoutMs' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'concurrentSends' | 'queuedSends' | 'maxEventAgeMs', number>>
}

/** What happened to one subscription's push. */
export interface Delivery {
  deviceId: string
  endpoint: string
  outcome: SendOutcome | { kind: 'suppressed' } | { kind: 'dropped'; reason: string }
}

export interface PushSender {
  /**
   * Pushes `event` to every device that may see it, has a subscription and is
   * not looking at its tab. Resolves when every push has finished (retries included).
   */
  deliver(event: PushEvent): Promise<Delivery[]>
  /** A test notification to one device's subscriptions, tried once, never suppressed. */
  sendTest(deviceId: string): Promise<Delivery[]>
  /** Stops listening to the pipeline and closes connections; pushes in flight end at their deadline. */
  stop(): void
}

/**
 * The Web Push sender: for each event, every allowed device (the gate's
 * `subscribe-events` on its current record) with a subscription gets an
 * encrypted push, unless it is looking at that tab right now. 404/410 delete
 * the subscription, 429/5xx and network failures retry with backoff (bounded),
 * and at most `concurrentSends` pushes are in flight.
 */
export function startPushSender(options: PushSenderOptions): PushSender {
  const limits: Record<keyof NonNullable<PushSenderOptions['limits']>, number> = { ...PUSH_LIMITS, ...options.limits }
  const now = options.now ?? Date.now
  const log = options.log ?? (() => {})
  const policy: AddressPolicy = options.allowLoopbackEndpointForTests ? { allowLoopbackEndpointForTests: true } : {}
  const agent: Agent = createPushAgent({
    ...policy,
    maxSockets: limits.concurrentSends,
    ...(options.caForTests === undefined ? {} : { caForTests: options.caForTests }),
  })
  const slots = new Semaphore(limits.concurrentSends)
  let stopped = false

  async function deliver(event: PushEvent): Promise<Delivery[]> {
    const at = Date.parse(event.ts)
    if (!Number.isFinite(at) || now() - at > limits.maxEventAgeMs) return [] // the phone would drop it as stale
    const [devices, subs] = await Promise.all([readDevices(options.home), readSubscriptions(options.home)])
    if (subs.length === 0) return []
    const byId = new Map(devices.map((d) => [d.id, d]))
    const tab = tabOf(event)
    const watching = tab ? options.viewers().filter((v) => v.visible && v.session === tab.session && v.window === tab.window) : []
    const jobs: Promise<Delivery>[] = []
    const dead: PushSubscriptionRecord[] = []
    for (const sub of subs) {
      const device = byId.get(sub.deviceId)
      const verdict = decide({ device: grantOf(device ?? null), action: 'subscribe-events', ...(tab ? { session: tab.session } : {}) }, now())
      if (!verdict.ok) {
        if (isGone(device)) dead.push(sub) // revoked or removed: its subscription goes too
        continue
      }
      if (watching.some((v) => v.deviceId === sub.deviceId)) {
        jobs.push(Promise.resolve({ deviceId: sub.deviceId, endpoint: sub.endpoint, outcome: { kind: 'suppressed' } }))
        continue
      }
      jobs.push(push(sub, event, limits.maxAttempts, !verdict.readOnly))
    }
    if (dead.length > 0) await drop(dead, 'device revoked')
    return Promise.all(jobs)
  }

  /** One device's push; `mayAnswer`: it may type (not read-only), so an event's choices go with it. */
  async function push(sub: PushSubscriptionRecord, event: PushEvent, attempts: number, mayAnswer: boolean): Promise<Delivery> {
    const base = { deviceId: sub.deviceId, endpoint: sub.endpoint }
    if (slots.waiting >= limits.queuedSends) {
      log(`push: queue full (${limits.queuedSends}); dropped event ${event.id} for device ${sub.deviceId}`)
      return { ...base, outcome: { kind: 'dropped', reason: 'queue full' } }
    }
    const payload = encodePayload(payloadFor(event, sub.private, mayAnswer))
    const sendOptions = {
      ...policy,
      vapid: options.vapid,
      subject: options.subject,
      agent,
      ttl: ttlFor(event.type),
      urgency: urgencyFor(event.type),
      topic: topicFor(options.vapid.topicKey, sub.deviceId, event),
      timeoutMs: limits.sendTimeoutMs,
    }
    let outcome: SendOutcome = { kind: 'failed', status: null, reason: 'not sent' }
    for (let attempt = 1; attempt <= attempts && !stopped; attempt++) {
      outcome = await slots.run(() => sendPush(sub, payload, sendOptions))
      if (outcome.kind !== 'retry' || attempt === attempts) break
      const backoff = Math.min(limits.retryMaxMs, Math.max(outcome.retryAfterMs ?? 0, limits.retryBaseMs * 2 ** (attempt - 1)))
      await sleep(backoff)
    }
    if (outcome.kind === 'gone') await drop([sub], `push service answered ${outcome.status}`)
    else if (outcome.kind !== 'sent') log(`push: event ${event.id} to device ${sub.deviceId} not delivered: ${outcome.reason}`)
    return { ...base, outcome }
  }

  async function drop(subs: readonly PushSubscriptionRecord[], why: string): Promise<void> {
    const gone = new Set(subs.map((s) => `${s.deviceId}\n${s.endpoint}`))
    await updateSubscriptions(options.home, (all) => {
      const kept = all.filter((s) => !gone.has(`${s.deviceId}\n${s.endpoint}`))
      return kept.length === all.length ? all : kept
    }).catch((err: unknown) => log(`push: could not remove a dead subscription: ${(err as Error).message}`))
    for (const s of subs) log(`push: removed the subscription of device ${s.deviceId} (${why})`)
  }

  async function sendTest(deviceId: string): Promise<Delivery[]> {
    const subs = (await readSubscriptions(options.home)).filter((s) => s.deviceId === deviceId)
    const event: PushEvent = { id: 0, ts: new Date(now()).toISOString(), type: 'test', title: 'Handoff', message: 'Notifications work on this device.' }
    return Promise.all(subs.map((sub) => push(sub, event, 1, false)))
  }

  const unsubscribe = options.subscribe?.(
    (event) =>
      void deliver(event).catch((err: unknown) => log(`push: event ${event.id}: ${err instanceof Error ? err.message : String(err)}`)),
    { backlog: true },
  )

  return {
    deliver,
    sendTest,
    stop() {
      if (stopped) return
      stopped = true
      unsubscribe?.()
      agent.destroy()
    },
  }
}

const isGone = (device: DeviceRecord | undefined): boolean => !device || device.status === 'revoked'

/** At most `size` tasks at once; the rest wait in order. */
class Semaphore {
  private active = 0
  private readonly queue: (() => void)[] = []
  constructor(private readonly size: number) {}

  get waiting(): number {
    return this.queue.length
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve))
    else this.active++
    try {
      return await task()
    } finally {
      const next = this.queue.shift()
      if (next) next()
      else this.active--
    }
  }
}
