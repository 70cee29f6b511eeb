/** Every limit of the terminal stream, with its unit. docs/protocol.md documents each. */
export const BRIDGE_LIMITS = {
  /** One client message (keys, paste chunk, control JSON); larger closes with 1009. */
  messageBytes: 64 * 1024,
  /** Stop reading the terminal while this much sent output is unacknowledged. */
  unackedHighBytes: 1024 * 1024,
  /** Resume reading once unacknowledged output falls below this. */
  unackedLowBytes: 256 * 1024,
  /** At most one resize applied per this many ms; the latest request wins. */
  resizeIntervalMs: 100,
  cols: { min: 2, max: 500, initial: 80 },
  rows: { min: 2, max: 200, initial: 24 },
} as const

export type ControlMessage =
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'ack'; bytes: number }
  | { type: 'visibility'; visible: boolean }

export type ParseResult = { ok: true; message: ControlMessage } | { ok: false; reason: string }

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
  if (v.type === 'resize') {
    if (!isCount(v.cols) || !isCount(v.rows)) return { ok: false, reason: 'resize needs numeric "cols" and "rows"' }
    return { ok: true, message: { type: 'resize', ...clampSize(v.cols, v.rows) } }
  }
  if (v.type === 'ack') {
    if (!isCount(v.bytes)) return { ok: false, reason: 'ack needs a non-negative "bytes"' }
    return { ok: true, message: { type: 'ack', bytes: Math.floor(v.bytes) } }
  }
  if (v.type === 'visibility') {
    if (typeof v.visible !== 'boolean') return { ok: false, reason: 'visibility needs a boolean "visible"' }
    return { ok: true, message: { type: 'visibility', visible: v.visible } }
  }
  return { ok: false, reason: `unknown control frame type ${JSON.stringify(String(v.type)).slice(0, 40)}` }
}

/** The initial size from `?cols=&rows=`: absent means the default, present must be a number. */
export function parseInitialSize(cols: string | null, rows: string | null): { cols: number; rows: number } | null {
  const read = (raw: string | null, fallback: number) => (raw === null ? fallback : /^\d{1,6}$/.test(raw) ? Number(raw) : NaN)
  const c = read(cols, BRIDGE_LIMITS.cols.initial)
  const r = read(rows, BRIDGE_LIMITS.rows.initial)
  return Number.isNaN(c) || Number.isNaN(r) ? null : clampSize(c, r)
}
