/**
 * Text that came from outside (a request, a device's name, a tmux session or
 * window name, an event, a file) shown on a terminal: the owner's, where
 * `handoff` prints and where the server logs. Raw, an escape sequence in it
 * would act on that terminal (OSC 52 writes the clipboard, CSI clears the
 * screen, OSC 0 sets the title). Shown through here, every control character
 * is a visible escape, bidirectional overrides cannot reorder what follows,
 * and the length is capped. `--json` output and the files keep the exact text.
 */

export const UNTRUSTED_LIMITS = {
  /** One value (a name, a path, a message) in a line of output. */
  fieldChars: 200,
  /** One line of a log or of output. */
  lineChars: 4_000,
} as const

// C0 and DEL, C1 (U+009B is a terminal's CSI), bidirectional controls and
// isolates, and the line and paragraph separators some terminals break on.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu
// The same, but a line break of our own (between lines of output) is kept.
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

const NAMED: Record<string, string> = { '\x1b': '\\e', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function visible(ch: string): string {
  const named = NAMED[ch]
  if (named) return named
  const code = ch.codePointAt(0) ?? 0
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

function cap(text: string, max: number): string {
  if (text.length <= max) return text
  const points = [...text]
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`
}

/**
 * One untrusted value for a terminal: every control character (line breaks
 * included) and bidirectional control as a visible escape (`\e`, `\n`,
 * `\x07`, `\u202e`), at most `maxChars` characters.
 */
export function forTerminal(text: string, maxChars: number = UNTRUSTED_LIMITS.fieldChars): string {
  return cap(text.replace(UNSAFE, visible), maxChars)
}

/**
 * Output already built of lines (a table, a message): the same escapes, but
 * its own line breaks kept, each line capped. The last guard before stdout,
 * stderr or a log: whatever a caller forgot to escape cannot act on the terminal.
 */
export function forTerminalLines(text: string, maxLineChars: number = UNTRUSTED_LIMITS.lineChars): string {
  return text
    .split('\n')
    .map((line) => cap(line.replace(UNSAFE_BUT_NEWLINE, visible), maxLineChars))
    .join('\n')
}

/** Whether `text` holds anything `forTerminal` would escape. */
export const hasControlChars = (text: string): boolean => new RegExp(UNSAFE.source, 'u').test(text)
