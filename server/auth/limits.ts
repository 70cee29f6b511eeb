/** Every limit of device identity, with its unit. Each has a line in docs/auth.md and a limit+1 test. */
export const AUTH_LIMITS = {
  pairingSecretBytes: 32, // random bytes in a pairing secret (256 bits; the issue asks for at least 128)
  pairingTtlMs: 5 * 60_000, // a pairing link lives 5 minutes (the CLI sets pairing.expiresAt)
  challengeTtlMs: 60_000, // a WebAuthn challenge must come back within 60 s
  challengesMax: 1_000, // challenges outstanding at once; more → RATE_LIMITED
  tokenKeyBytes: 32, // the HS256 signing key in HANDOFF_HOME/token.key
  tokenTtlMs: 12 * 60 * 60_000, // default session token (and cookie) lifetime: 12 hours
  rateBurst: 10, // pairing and sign-in requests a peer address may make back to back (one pairing plus sign-in is 5, with room for a retry)
  ratePerMinute: 10, // ...and then per minute, refilled continuously
  statusRateBurst: 10, // /api/pair/status polls back to back (the phone polls while the code is typed)
  statusRatePerMinute: 120, // ...and then per minute: one poll every 0.5 s
  rateAddressesMax: 10_000, // peer addresses tracked by the rate limiter before the idle ones are dropped
  bodyBytes: 16 * 1024, // one request body, as in the app's own limit
  webauthnFieldChars: 16 * 1024, // one base64url field of a WebAuthn response (the app's body limit is 16 KiB anyway)
  deviceNameChars: 64, // characters in a device name (the store enforces it too)
} as const
