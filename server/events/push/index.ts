export { blockedAddressReason, BlockedAddressError, createPushAgent, guardedLookup } from './address.js'
export type { AddressPolicy, PushAgentOptions } from './address.js'
export { checkEndpoint, checkKeys, isPushServiceHost, PUSH_SERVICE_HOSTS } from './endpoint.js'
export type { EndpointPolicy } from './endpoint.js'
export { offersChoices, tabOf } from './event.js'
export type { PushEvent } from './event.js'
export { DEFAULT_PUSH_TTL_S, PUSH_LIMITS, PUSH_TTL_S } from './limits.js'
export { encodePayload, payloadFor, tagFor, topicFor, ttlFor, urgencyFor, urlFor } from './payload.js'
export type { PushPayload } from './payload.js'
export { createPushRoutes } from './routes.js'
export type { PushRouteDeps } from './routes.js'
export { sendPush } from './send.js'
export type { SendOutcome, SendOptions } from './send.js'
export { startPushSender } from './sender.js'
export type { Delivery, PushSender, PushSenderOptions, Viewer } from './sender.js'
export {
  PUSH_FILE,
  pruneSubscriptions,
  pushPath,
  readSubscriptions,
  removeSubscription,
  saveSubscription,
  updateSubscriptions,
} from './subscriptions.js'
export type { PushSubscriptionRecord } from './subscriptions.js'
export { loadVapidKeys, VAPID_FILE, vapidPath, vapidSubject } from './vapid.js'
export type { VapidKeys } from './vapid.js'
