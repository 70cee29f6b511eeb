import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** Every error Handoff reports, by stable code. Each has one sentence in docs/errors.md. */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_NAME'
  | 'BAD_CONFIG'
  | 'BODY_TOO_LARGE'
  | 'HOST_NOT_ALLOWED'
  | 'ORIGIN_MISMATCH'
  | 'NOT_FOUND'
  | 'SESSION_NOT_FOUND'
  | 'WINDOW_NOT_FOUND'
  | 'SESSION_EXISTS'
  | 'TMUX_NOT_INSTALLED'
  | 'TMUX_TIMEOUT'
  | 'TMUX_OUTPUT_TOO_LARGE'
  | 'TMUX_VERSION_MISMATCH'
  | 'TMUX_FAILED'
  | 'PORT_IN_USE'
  | 'LISTEN_FAILED'
  | 'SERVER_NOT_RUNNING'
  | 'NOT_SIGNED_IN'
  | 'DEVICE_UNKNOWN'
  | 'DEVICE_EXPIRED'
  | 'READ_ONLY'
  | 'SESSION_NOT_ALLOWED'
  | 'BAD_TARGET'
  | 'BAD_ACTION'
  | 'BAD_PATTERN'
  | 'AUDIT_UNAVAILABLE'
  | 'STATE_LOCKED'
  | 'BAD_STATE'
  | 'DEVICE_NOT_FOUND'
  | 'DEVICE_AMBIGUOUS'
  | 'PAIRING_INVALID' | 'PAIRING_FAILED' | 'SIGN_IN_FAILED' | 'RATE_LIMITED'
  | 'PEER_NOT_ALLOWED'
  | 'PEER_UNVERIFIED'
  | 'CERT_INVALID'
  | 'BAD_SUBSCRIPTION' | 'PUSH_NOT_SUBSCRIBED' | 'PUSH_FAILED'
  | 'EVENT_NOT_FOUND' | 'NO_CHOICES' | 'UNKNOWN_CHOICE' | 'ANSWER_STALE' | 'PANE_GONE'
  | 'INTERNAL'

/** The one error class: a stable code, an HTTP status, and a message that says what to do next. */
export class HandoffError extends Error {
  override readonly name = 'HandoffError'
  constructor(
    readonly code: ErrorCode,
    readonly status: ContentfulStatusCode = 400,
    message: string = code,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export const isHandoffError = (err: unknown, code?: ErrorCode): err is HandoffError =>
  err instanceof HandoffError && (code === undefined || err.code === code)
