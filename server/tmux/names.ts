import { HandoffError } from '../errors.js'

/** Names Handoff itself creates. Anything else may be a tmux format (`#(...)` runs a command). */
export const NEW_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** Throws BAD_NAME, quoting the name and the rule, unless `name` may be given to tmux as a new name. */
export function checkNewName(name: string, what: 'session' | 'window'): string {
  if (NEW_NAME_PATTERN.test(name)) return name
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)
  const why = name.length === 0 ? 'it is empty' : name.length > 64 ? `it is ${name.length} characters long` : 'it has other characters'
  throw new HandoffError(
    'BAD_NAME',
    400,
    `${what} name ${shown} is not allowed: ${why}; use 1-64 letters, digits, "-" or "_"`,
  )
}

/**
 * Strips the status glyphs that programs put before a pane title (Claude Code's
 * `✳ ` or spinner frames such as `⠂ `), so the title reads as words.
 */
export function cleanTitle(title: string): string {
  return title.replace(/^[\p{S}\p{Z}\s]+/u, '').trimEnd()
}

/** A window index as written in a URL: a plain non-negative integer, else BAD_REQUEST. */
export function parseWindowIndex(raw: string): number {
  if (/^\d{1,9}$/.test(raw)) return Number(raw)
  throw new HandoffError('BAD_REQUEST', 400, `window index must be a non-negative integer, got ${JSON.stringify(raw.slice(0, 40))}`)
}
