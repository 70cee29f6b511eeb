// Imports the tmux key names from their file, not server/tmux/index.ts:
// `handoff notify` validates choices and must not load the control connection.
import type { KeyInput, NamedKey } from '../tmux/keys.js'

/** Limits on an event's `choices` (docs/notifications.md#choices). */
export const CHOICE_LIMITS = {
  /** Choices one event may offer. */
  count: 6,
  /** A choice's label, in code points; longer ones are cut and end in "…". */
  labelChars: 40,
  /** A choice's `keys`, in code points, as written (named keys count with their brackets). */
  keysChars: 32,
} as const

/**
 * The named keys `keys` may hold, in angle brackets as Vim writes them
 * (`<Enter>`, `<Esc>`), by lowercase name; each is written back in its
 * canonical spelling. `<lt>` is a literal `<`.
 */
const KEY_NAMES: Readonly<Record<string, { canonical: string; key: NamedKey | '<' }>> = {
  enter: { canonical: 'Enter', key: 'Enter' },
  cr: { canonical: 'Enter', key: 'Enter' },
  return: { canonical: 'Enter', key: 'Enter' },
  esc: { canonical: 'Esc', key: 'Escape' },
  escape: { canonical: 'Esc', key: 'Escape' },
  tab: { canonical: 'Tab', key: 'Tab' },
  's-tab': { canonical: 'S-Tab', key: 'BTab' },
  up: { canonical: 'Up', key: 'Up' },
  down: { canonical: 'Down', key: 'Down' },
  left: { canonical: 'Left', key: 'Left' },
  right: { canonical: 'Right', key: 'Right' },
  space: { canonical: 'Space', key: 'Space' },
  bs: { canonical: 'BS', key: 'BSpace' },
  backspace: { canonical: 'BS', key: 'BSpace' },
  lt: { canonical: 'lt', key: '<' },
}

/** The spellings an error message offers. */
export const KEY_NAME_LIST = '<Enter> <Esc> <Tab> <S-Tab> <Up> <Down> <Left> <Right> <Space> <BS> <lt>'

// Never typed as text: C0 and C1 controls, DEL, and the bidi controls. A key
// that needs a control character is a named key, or it is not allowed at all.
const UNTYPEABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

export type ParsedKeys = { ok: true; inputs: KeyInput[]; canonical: string } | { ok: false; reason: string }

/**
 * Reads a choice's `keys`: text typed as it is, and named keys in angle
 * brackets, such as `1`, `y<Enter>`, `<Esc>` or `<Down><Enter>`. Refuses
 * (with the reason) control characters, an unknown or unclosed `<…>`, an
 * empty string and one over CHOICE_LIMITS.keysChars. Pure.
 *
 * @example parseChoiceKeys('y<enter>') // { ok: true, inputs: [{ text: 'y' }, { key: 'Enter' }], canonical: 'y<Enter>' }
 */
export function parseChoiceKeys(raw: string): ParsedKeys {
  if (raw === '') return { ok: false, reason: 'must not be empty' }
  const bad = UNTYPEABLE.exec(raw)
  if (bad) return { ok: false, reason: `holds the control character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}; name the key instead (${KEY_NAME_LIST})` }
  const inputs: KeyInput[] = []
  let canonical = ''
  const type = (text: string) => {
    const last = inputs.at(-1)
    if (last && 'text' in last) last.text += text
    else inputs.push({ text })
  }
  for (let i = 0; i < raw.length; ) {
    if (raw[i] !== '<') {
      const next = raw.indexOf('<', i)
      const text = raw.slice(i, next === -1 ? raw.length : next)
      type(text)
      canonical += text
      i += text.length
      continue
    }
    const close = raw.indexOf('>', i)
    const name = close === -1 ? undefined : KEY_NAMES[raw.slice(i + 1, close).toLowerCase()]
    if (!name) return { ok: false, reason: `has an unknown key ${JSON.stringify(raw.slice(i, close === -1 ? i + 12 : close + 1))}; named keys are ${KEY_NAME_LIST} (<lt> types a "<")` }
    if (name.key === '<') type('<')
    else inputs.push({ key: name.key })
    canonical += `<${name.canonical}>`
    i = close + 1
  }
  if ([...canonical].length > CHOICE_LIMITS.keysChars) return { ok: false, reason: `is longer than ${CHOICE_LIMITS.keysChars} characters` }
  return { ok: true, inputs, canonical }
}
