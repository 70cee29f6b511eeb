/**
 * Pure key mapping for the phone's toolbar and its sticky modifiers: what
 * bytes a key sends, given the modifiers and the terminal's cursor-key mode.
 * No DOM here, so every byte is unit-tested (keys.test.ts).
 */

/** One-shot modifiers the toolbar holds for the next key. */
export interface Modifiers {
  ctrl: boolean
  alt: boolean
  shift: boolean
}

export const NO_MODIFIERS: Readonly<Modifiers> = Object.freeze({ ctrl: false, alt: false, shift: false })

/** Keys the toolbar sends (printable ones are sent as text through {@link applyModifiers}). */
export type ToolbarKey =
  | 'esc'
  | 'tab'
  | 'enter'
  | 'home'
  | 'end'
  | 'up'
  | 'down'
  | 'left'
  | 'right'
  | 'pgup'
  | 'pgdn'
  | 'ctrl-c'
  | 'word-left'
  | 'word-right'

const ESC = '\x1b'

/**
 * The control byte for `ch` typed with Ctrl, following xterm: letters and
 * `@[\]^_` map to C0 (`ch & 0x1f`), space and `2` to NUL, `/` and `-` (the
 * keys that carry `_` and `?` on US layouts) and `7` to 0x1f, `?` and `8`
 * to DEL, `3`-`6` to ESC, FS, GS, RS. Undefined when Ctrl changes nothing.
 */
export function ctrlByte(ch: string): string | undefined {
  if (ch.length !== 1) return undefined
  const code = ch.charCodeAt(0)
  if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return String.fromCharCode(code & 0x1f)
  switch (ch) {
    case '@':
    case ' ':
    case '2':
    case '`':
      return '\x00'
    case '[':
    case '3':
    case '{':
      return '\x1b'
    case '\\':
    case '4':
    case '|':
      return '\x1c'
    case ']':
    case '5':
    case '}':
      return '\x1d'
    case '^':
    case '6':
    case '~':
      return '\x1e'
    case '_':
    case '/':
    case '-':
    case '7':
      return '\x1f'
    case '?':
    case '8':
      return '\x7f'
    default:
      return undefined
  }
}

/** xterm's modifier parameter: 1 + Shift(1) + Alt(2) + Ctrl(4). */
function modifierParam(mods: Modifiers): number {
  return 1 + (mods.shift ? 1 : 0) + (mods.alt ? 2 : 0) + (mods.ctrl ? 4 : 0)
}

const hasAny = (mods: Modifiers) => mods.ctrl || mods.alt || mods.shift

/** Cursor keys: SS3 in application cursor mode, CSI otherwise, CSI 1;m with modifiers. */
function cursorKey(final: 'A' | 'B' | 'C' | 'D' | 'H' | 'F', mods: Modifiers, appCursor: boolean): string {
  if (hasAny(mods)) return `${ESC}[1;${modifierParam(mods)}${final}`
  return appCursor ? `${ESC}O${final}` : `${ESC}[${final}`
}

function tildeKey(n: number, mods: Modifiers): string {
  return hasAny(mods) ? `${ESC}[${n};${modifierParam(mods)}~` : `${ESC}[${n}~`
}

/**
 * The bytes a toolbar key sends. `appCursor` is xterm's
 * `modes.applicationCursorKeysMode` (vim, less and tmux's copy mode turn it on).
 */
export function keySequence(key: ToolbarKey, mods: Modifiers, appCursor: boolean): string {
  switch (key) {
    case 'up':
      return cursorKey('A', mods, appCursor)
    case 'down':
      return cursorKey('B', mods, appCursor)
    case 'right':
      return cursorKey('C', mods, appCursor)
    case 'left':
      return cursorKey('D', mods, appCursor)
    case 'home':
      return cursorKey('H', mods, appCursor)
    case 'end':
      return cursorKey('F', mods, appCursor)
    case 'pgup':
      return tildeKey(5, mods)
    case 'pgdn':
      return tildeKey(6, mods)
    case 'esc':
      return mods.alt ? ESC + ESC : ESC
    case 'tab':
      if (mods.shift) return `${ESC}[Z`
      return (mods.alt ? ESC : '') + '\t'
    case 'enter':
      // Shift+Enter is a line feed: Claude Code (and readline's quoted insert) take it as a newline without submitting.
      if (mods.shift) return (mods.alt ? ESC : '') + '\n'
      return (mods.alt ? ESC : '') + '\r'
    case 'ctrl-c':
      return '\x03'
    case 'word-left':
      return `${ESC}b`
    case 'word-right':
      return `${ESC}f`
  }
}

/**
 * Applies one-shot modifiers to text typed on the soft keyboard (or a
 * toolbar character key). Only the first character is modified; the rest of
 * a multi-character input (autocorrect, IME) passes unchanged. Ctrl maps to
 * the control byte when there is one, Shift upper-cases letters and turns
 * Tab into back-tab and Enter into a line feed, Alt prefixes ESC.
 */
export function applyModifiers(text: string, mods: Modifiers): string {
  if (!hasAny(mods) || text.length === 0) return text
  const first = String.fromCodePoint(text.codePointAt(0)!)
  const rest = text.slice(first.length)
  let out = first
  if (first === '\r' || first === '\n') out = mods.shift ? '\n' : '\r'
  else if (first === '\t') {
    if (mods.shift) return `${ESC}[Z` + rest
  } else {
    if (mods.shift) out = out.toUpperCase()
    if (mods.ctrl) out = ctrlByte(out) ?? out
  }
  return (mods.alt ? ESC : '') + out + rest
}
