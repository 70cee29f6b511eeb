/** Every limit of Web Push, with its unit. docs/notifications.md#web-push documents each. */
export const PUSH_LIMITS = {
  /** A subscription endpoint URL, in characters. */
  endpointChars: 1_024,
  /** `keys.p256dh`: an uncompressed P-256 point, in bytes after base64url decoding. */
  p256dhBytes: 65,
  /** `keys.auth`: the RFC 8291 authentication secret, in bytes. */
  authBytes: 16,
  /** A subscription request body (`POST`/`DELETE /api/push/subscription`), in bytes. */
  bodyBytes: 4 * 1024,
  /** One send, from DNS lookup to the last response byte, in ms. */
  sendTimeoutMs: 10_000,
  /** The most of a push service's response that is read, in bytes; the rest is dropped with the connection. */
  responseBytes: 64 * 1024,
  /** Tries per push when the service answers 429 or 5xx, or the connection fails. */
  maxAttempts: 3,
  /** First retry delay in ms; doubles per try, and a longer `Retry-After` (up to retryMaxMs) wins. */
  retryBaseMs: 1_000,
  retryMaxMs: 30_000,
  /** Sends in flight at once, across every device. */
  concurrentSends: 4,
  /** Sends waiting for a slot; beyond this new pushes are dropped (and logged). */
  queuedSends: 500,
  /** Plaintext payload sizes, in bytes: each payload is padded with spaces to the smallest that fits. */
  payloadBuckets: [1_024, 2_048, 3_968] as readonly number[],
  /** Notification title and body, in characters, before padding. */
  titleChars: 120,
  bodyChars: 1_000,
  /** Events older than this (ms, by their `ts`) are not pushed: the phone would drop them as stale. */
  maxEventAgeMs: 60 * 60_000,
} as const

/** TTL in seconds by event type: how long the push service may hold a push for an unreachable phone. */
export const PUSH_TTL_S: Readonly<Record<string, number>> = { notify: 3_600, error: 3_600, stop: 900 }
export const DEFAULT_PUSH_TTL_S = 1_800
