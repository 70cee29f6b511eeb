import { HandoffError, isHandoffError } from '../server/errors.js'
import { formatSessionPatterns, parseSessionPatterns } from '../server/gate/index.js'

const DAY_MS = 24 * 60 * 60_000

/** `--expires`: `1d`, `7d`, `30d` (any 1-365 days, or `12h` style hours), or `never`; ms from now, or null. */
export function parseExpiry(raw: string): number | null {
  if (raw === 'never') return null
  const m = /^(\d{1,4})([dh])$/.exec(raw)
  const ms = m ? Number(m[1]) * (m[2] === 'd' ? DAY_MS : DAY_MS / 24) : NaN
  if (ms > 0 && ms <= 365 * DAY_MS) return ms
  throw new HandoffError('BAD_CONFIG', 400, `--expires must be like 1d, 7d, 30d, 12h (up to 365d) or never, got ${JSON.stringify(raw)}`)
}

/**
 * `--sessions`: the patterns in their normalized text form (`work-*,main`).
 * A bad list is a usage error (BAD_CONFIG, exit 2) naming the flag, like every other bad flag value.
 */
export function parseSessionsFlag(raw: string): string {
  try {
    return formatSessionPatterns(parseSessionPatterns(raw))
  } catch (err) {
    if (isHandoffError(err, 'BAD_PATTERN')) throw new HandoffError('BAD_CONFIG', 400, `--sessions: ${err.message}`, { cause: err })
    throw err
  }
}

/** "in 29 days", "never": how an expiry reads in a table or a prompt. */
export function describeExpiry(expiresAt: number | null, now = Date.now()): string {
  if (expiresAt === null) return 'never'
  const d = expiresAt - now
  if (d <= 0) return 'expired'
  if (d < DAY_MS) return `in ${Math.max(1, Math.round(d / 3_600_000))}h`
  return `in ${Math.round(d / DAY_MS)}d`
}
