import { HandoffError, type ErrorCode } from '../errors.js'

// BAD_PATTERN is not in ErrorCode yet (server/errors.ts belongs to another change);
// the cast goes away once it is added there.
const BAD_PATTERN = 'BAD_PATTERN' as string as ErrorCode

/** Limits on a session pattern list, enforced by {@link parseSessionPatterns}. */
export const PATTERN_LIMITS = {
  items: 32, // patterns in one list
  itemCodePoints: 64, // one pattern after trimming, in Unicode code points
  textUnits: 8_192, // the whole text as given, in UTF-16 units: bounds the work before splitting
} as const

declare const parsed: unique symbol

/**
 * A validated, normalized list of session globs. Only {@link parseSessionPatterns}
 * makes one; {@link matchesSession} grants nothing to a look-alike object (for example
 * one read back from JSON and cast), so stored grants must be re-parsed from their text.
 * `JSON.stringify` writes it as its text (`"work-*,main"`).
 */
export interface SessionPatterns {
  /** True when the list grants every session (it contains `*`). */
  readonly all: boolean
  /** The normalized patterns in the order given: trimmed, `**` collapsed, duplicates dropped; `['*']` when `all`. */
  readonly items: readonly string[]
  /** The text form, the same as {@link formatSessionPatterns}. */
  toJSON(): string
  readonly [parsed]: true
}

// Objects made here; matchesSession refuses anything else (fail closed on casts).
const issued = new WeakSet<object>()

function toJSON(this: SessionPatterns): string {
  return formatSessionPatterns(this)
}

/** The first character that is not allowed in a pattern, with why, or undefined. */
function forbidden(item: string): string | undefined {
  for (const ch of item) {
    const cp = ch.codePointAt(0)!
    // C0, DEL and C1 controls: never typed on purpose, and they can rewrite a terminal.
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      return `it contains the control character U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
    }
    // Bidirectional overrides and isolates make a printed grant read differently from
    // what it matches ("Trojan Source"); `handoff devices` prints patterns.
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x200e || cp === 0x200f || cp === 0x061c) {
      return `it contains the bidirectional control character U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
    }
    if (ch === '[' || ch === ']') return `it contains "${ch}": character classes [...] are not supported, only * and ?`
    if (ch === '{' || ch === '}') return `it contains "${ch}": alternatives {a,b} are not supported; list each pattern separated by commas`
    if (ch === '\\') return 'it contains "\\": escapes are not supported, only * and ?'
  }
  return undefined
}

// JSON escapes C0 controls only; DEL, C1 and bidirectional controls are escaped here too.
const UNPRINTABLE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Quotes user text for a message so it can never drive a terminal or reorder what is printed. */
function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s).replace(
    UNPRINTABLE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

function bad(message: string): never {
  throw new HandoffError(BAD_PATTERN, 400, message)
}

/**
 * Parses a comma-separated list of session globs (`*` any run, `?` one character),
 * validating at the edge. Items are trimmed of spaces; `*` alone grants every session.
 * @throws HandoffError BAD_PATTERN (400), quoting the bad item and the rule it breaks.
 * @example parseSessionPatterns('work-*, main').items // ['work-*', 'main']
 */
export function parseSessionPatterns(text: string): SessionPatterns {
  if (typeof text !== 'string') bad(`session patterns must be text, got ${typeof text}`)
  if (text.length > PATTERN_LIMITS.textUnits) {
    bad(`session patterns are ${text.length} characters long, at most ${PATTERN_LIMITS.textUnits}`)
  }
  const raw = text.split(',')
  if (raw.length > PATTERN_LIMITS.items) {
    bad(`${raw.length} session patterns given, at most ${PATTERN_LIMITS.items}; use * to cover several sessions`)
  }
  const items: string[] = []
  let all = false
  raw.forEach((part, i) => {
    // Only spaces: a tab or newline is a control character and is refused below with its name.
    const item = part.replace(/^ +| +$/g, '')
    if (item === '') {
      bad(
        text.trim() === ''
          ? 'no session patterns given: use * for every session, or names and globs such as work-*,main'
          : `session pattern ${i + 1} in ${quote(text)} is empty: remove the extra comma`,
      )
    }
    const length = [...item].length
    if (length > PATTERN_LIMITS.itemCodePoints) {
      bad(`session pattern ${quote(item)} is not allowed: it is ${length} characters long, at most ${PATTERN_LIMITS.itemCodePoints}`)
    }
    const why = forbidden(item)
    if (why) bad(`session pattern ${quote(item)} is not allowed: ${why}`)
    const normal = item.replace(/\*{2,}/g, '*')
    if (normal === '*') all = true
    if (!items.includes(normal)) items.push(normal)
  })
  const result = Object.freeze({ all, items: Object.freeze(all ? ['*'] : items), toJSON }) as SessionPatterns
  issued.add(result)
  return result
}

/**
 * The text form of parsed patterns, normalized (`work-*,main`).
 * `parseSessionPatterns(formatSessionPatterns(p))` equals `p`.
 */
export function formatSessionPatterns(patterns: SessionPatterns): string {
  return patterns.items.join(',')
}

/** Anchored glob match on code points: `*` any run (including empty), `?` exactly one. Linear backtracking, no regex. */
function globMatch(pattern: readonly string[], name: readonly string[]): boolean {
  let p = 0
  let n = 0
  let starP = -1
  let starN = 0
  while (n < name.length) {
    const c = pattern[p]
    if (c === '*') {
      starP = p++
      starN = n
    } else if (c !== undefined && (c === '?' || c === name[n])) {
      p++
      n++
    } else if (starP >= 0) {
      // Let the last * swallow one more character and retry from there.
      p = starP + 1
      n = ++starN
    } else {
      return false
    }
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

/**
 * Whether the exact session `name` is granted by `patterns` (case-sensitive, anchored).
 * Returns false for objects not made by {@link parseSessionPatterns} and for non-string names.
 * @example matchesSession(parseSessionPatterns('work-*'), 'work-api') // true; 'work' and 'main' are false
 */
export function matchesSession(patterns: SessionPatterns, name: string): boolean {
  if (!issued.has(patterns) || typeof name !== 'string') return false
  if (patterns.all) return true
  const chars = [...name]
  return patterns.items.some((item) =>
    item.includes('*') || item.includes('?') ? globMatch([...item], chars) : item === name,
  )
}
