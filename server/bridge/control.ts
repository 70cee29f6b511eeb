import type { ClientFrame } from '../../protocol/index.js'

/** Every limit of the terminal stream, with its unit. docs/protocol.md documents each. */
export const BRIDGE_LIMITS = {
  /** One client message (keys, paste, control JSON); larger closes with 1009. */
  messageBytes: 64 * 1024,
  /** Stop sending output while this much sent output is unacknowledged… */
  unackedHighBytes: 1024 * 1024,
  /** …and, once it falls below this, send each pane's state afresh and stream again. */
  unackedLowBytes: 256 * 1024,
  /** At most one size change applied per this many ms; the latest request wins. */
  resizeIntervalMs: 100,
  cols: { min: 2, max: 500, initial: 80 },
  rows: { min: 2, max: 200, initial: 24 },
  /** History lines sent with a pane's first screen (`?history=`), and the most a `history` frame may ask for. */
  historyLines: { max: 50_000, initial: 0 },
} as const

export type ParseResult = { ok: true; message: ClientFrame } | { ok: false; reason: string }

const clamp = (n: number, { min, max }: { min: number; max: number }) => Math.min(max, Math.max(min, Math.round(n)))

export const clampSize = (cols: number, rows: number) => ({
  cols: clamp(cols, BRIDGE_LIMITS.cols),
  rows: clamp(rows, BRIDGE_LIMITS.rows),
})

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0

/** Parses one text frame from the client. Pure; never throws. */
export function parseControl(text: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'control frame is not JSON' }
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'control frame is not a JSON object' }
  const v = value as Record<string, unknown>
  switch (v.type) {
    case 'resize':
      if (!isCount(v.cols) || !isCount(v.rows)) return { ok: false, reason: 'resize needs numeric "cols" and "rows"' }
      return { ok: true, message: { type: 'resize', ...clampSize(v.cols, v.rows) } }
    case 'ack':
      if (!isCount(v.bytes)) return { ok: false, reason: 'ack needs a non-negative "bytes"' }
      return { ok: true, message: { type: 'ack', bytes: Math.floor(v.bytes) } }
    case 'visibility':
      if (typeof v.visible !== 'boolean') return { ok: false, reason: 'visibility needs a boolean "visible"' }
      return { ok: true, message: { type: 'visibility', visible: v.visible } }
    case 'focus':
      if (!isCount(v.pane) || !Number.isInteger(v.pane) || typeof v.zoom !== 'boolean') {
        return { ok: false, reason: 'focus needs a pane number "pane" and a boolean "zoom"' }
      }
      return { ok: true, message: { type: 'focus', pane: v.pane, zoom: v.zoom } }
    case 'history':
      if (!isCount(v.pane) || !Number.isInteger(v.pane) || !isCount(v.lines) || !Number.isInteger(v.lines) || v.lines > BRIDGE_LIMITS.historyLines.max) {
        return { ok: false, reason: `history needs a pane number "pane" and whole "lines" up to ${BRIDGE_LIMITS.historyLines.max}` }
      }
      return { ok: true, message: { type: 'history', pane: v.pane, lines: v.lines } }
    case 'paste':
      if (typeof v.text !== 'string') return { ok: false, reason: 'paste needs a string "text"' }
      return { ok: true, message: { type: 'paste', text: v.text } }
    default:
      return { ok: false, reason: `unknown control frame type ${JSON.stringify(String(v.type)).slice(0, 40)}` }
  }
}

/** A whole number query parameter: absent means `fallback`, present must be digits. */
const readCount = (raw: string | null, fallback: number) => (raw === null ? fallback : /^\d{1,6}$/.test(raw) ? Number(raw) : NaN)

/** The initial size from `?cols=&rows=`: absent means the default, present must be a number. */
export function parseInitialSize(cols: string | null, rows: string | null): { cols: number; rows: number } | null {
  const c = readCount(cols, BRIDGE_LIMITS.cols.initial)
  const r = readCount(rows, BRIDGE_LIMITS.rows.initial)
  return Number.isNaN(c) || Number.isNaN(r) ? null : clampSize(c, r)
}

/** `?history=N`: lines of history with each pane's first screen, 0 to the limit; absent means none. */
export function parseHistoryLines(raw: string | null): number | null {
  const n = readCount(raw, BRIDGE_LIMITS.historyLines.initial)
  return Number.isNaN(n) || n > BRIDGE_LIMITS.historyLines.max ? null : n
}
