import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import * as v from 'valibot'
import { HandoffError } from '../../errors.js'
import { authorize } from '../../access/index.js'
import { jsonBody, type AppEnv } from '../../http/index.js'
import { PUSH_LIMITS } from './limits.js'
import type { PushSender } from './sender.js'
import { checkSubscription, readSubscriptions, removeSubscription, saveSubscription } from './subscriptions.js'

export interface PushRouteDeps {
  /** HANDOFF_HOME: push.json, the audit log. */
  home: string
  /** The VAPID public key (base64url), the browser's `applicationServerKey`. */
  publicKey: string
  sender: Pick<PushSender, 'sendTest'>
  now: () => number
  /** Test-only: accept a loopback https endpoint. Never set in production. */
  allowLoopbackEndpointForTests?: boolean
}

const SubscribeBody = v.strictObject({
  endpoint: v.string(),
  // PushSubscription.toJSON() has it; Handoff does not use it.
  expirationTime: v.optional(v.nullable(v.number())),
  keys: v.strictObject({ p256dh: v.string(), auth: v.string() }),
  private: v.optional(v.boolean()),
})
const UnsubscribeBody = v.strictObject({ endpoint: v.string() })
const BAD_SUBSCRIPTION = { code: 'BAD_SUBSCRIPTION', what: 'subscription' } as const


/**
 * The Web Push endpoints, with full paths, to mount at `/` inside the app
 * (after its identify middleware, which sets `device` and `peer`):
 * `GET /api/push/key`, `GET|POST|DELETE /api/push/subscription`,
 * `POST /api/push/test`. Every one is decided by the gate (`subscribe-events`)
 * on the device's current record and audited. docs/notifications.md#web-push.
 */
export function createPushRoutes(deps: PushRouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const policy = deps.allowLoopbackEndpointForTests ? { allowLoopbackEndpointForTests: true } : {}
  const allow = (c: Context<AppEnv>) =>
    authorize(deps.home, { device: c.get('device'), action: 'subscribe-events', peer: c.get('peer'), now: deps.now() })

  app.use(
    '/api/push/*',
    bodyLimit({
      maxSize: PUSH_LIMITS.bodyBytes,
      onError: () => {
        throw new HandoffError('BODY_TOO_LARGE', 413, `push requests are limited to ${PUSH_LIMITS.bodyBytes} bytes`)
      },
    }),
  )

  app.get('/api/push/key', async (c) => {
    await allow(c)
    return c.json({ publicKey: deps.publicKey })
  })

  app.get('/api/push/subscription', async (c) => {
    const { deviceId } = await allow(c)
    const sub = (await readSubscriptions(deps.home)).find((s) => s.deviceId === deviceId)
    c.header('Cache-Control', 'no-store')
    return c.json({ subscription: sub ? { endpoint: sub.endpoint, private: sub.private, createdAt: sub.createdAt } : null })
  })

  app.post('/api/push/subscription', async (c) => {
    const body = await jsonBody(c.req.raw, SubscribeBody, BAD_SUBSCRIPTION)
    const { deviceId } = await allow(c)
    const sub = checkSubscription(deviceId, body, deps.now(), policy)
    await saveSubscription(deps.home, sub)
    return c.json({ subscription: { endpoint: sub.endpoint, private: sub.private } }, 201)
  })

  app.delete('/api/push/subscription', async (c) => {
    const { endpoint } = await jsonBody(c.req.raw, UnsubscribeBody, BAD_SUBSCRIPTION)
    const { deviceId } = await allow(c)
    await removeSubscription(deps.home, deviceId, endpoint)
    return c.body(null, 204)
  })

  app.post('/api/push/test', async (c) => {
    const { deviceId } = await allow(c)
    const results = await deps.sender.sendTest(deviceId)
    if (results.length === 0) throw new HandoffError('PUSH_NOT_SUBSCRIBED', 409, 'this device has no push subscription; turn notifications on first')
    const sent = results.filter((r) => r.outcome.kind === 'sent').length
    if (sent === 0) {
      const why = results.map((r) => ('reason' in r.outcome ? r.outcome.reason : r.outcome.kind)).join('; ')
      throw new HandoffError('PUSH_FAILED', 502, `the push service did not take the notification: ${why}`)
    }
    return c.json({ sent })
  })

  return app
}
