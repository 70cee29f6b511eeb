/**
 * Turns terminal text with SGR escapes (what `capture-pane -e` prints) into
 * lines of styled runs for reader mode. Pure: runs carry plain text and a
 * style, never markup; the reader builds text nodes from them, so escape
 * sequences and HTML in the output are shown, never interpreted. Every other
 * escape sequence (cursor moves, OSC titles, charsets) is dropped.
 */

export interface RunStyle {
  /** Palette index 0-255, or `#rrggbb`. */
  fg?: number | string
  bg?: number | string
  bold?: boolean
  dim?: boolean
  italic?: boolean
  underline?: boolean
  inverse?: boolean
  strike?: boolean
}

export interface Run {
  text: string
  style: RunStyle
}

/** One line of output: its runs, in order (an empty line has none). */
export type Line = Run[]

const ESC = '\x1b'

/** Parses `text` (lines separated by `\n`) into styled lines. */
export function parseSgr(text: string): Line[] {
  const lines: Line[] = []
  let line: Line = []
  let style: RunStyle = {}
  let buffer = ''
  const flush = () => {
    if (buffer) line.push({ text: buffer, style: { ...style } })
    buffer = ''
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\n') {
      flush()
      lines.push(line)
      line = []
      continue
    }
    if (ch === ESC) {
      const end = escapeEnd(text, i)
      const seq = text.slice(i, end)
      if (/^\x1b\[[0-9;:]*m$/.test(seq)) {
        flush()
        style = applySgr(style, seq.slice(2, -1))
      }
      i = end - 1
      continue
    }
    // Other C0 controls (BEL, CR, backspace…) have no place in reader text.
    const code = ch.charCodeAt(0)
    if (code < 0x20 && ch !== '\t') continue
    if (code === 0x7f || (code >= 0x80 && code < 0xa0)) continue
    buffer += ch
  }
  flush()
  if (line.length > 0) lines.push(line)
  return lines
}

/** Index just past the escape sequence starting at `start`. */
function escapeEnd(text: string, start: number): number {
  const next = text[start + 1]
  if (next === '[') {
    let i = start + 2
    while (i < text.length && !/[\x40-\x7e]/.test(text[i]!)) i++
    return Math.min(i + 1, text.length)
  }
  if (next === ']' || next === 'P' || next === '_' || next === '^') {
    // OSC/DCS/APC/PM: up to BEL or ST (ESC \).
    for (let i = start + 2; i < text.length; i++) {
      if (text[i] === '\x07') return i + 1
      if (text[i] === ESC && text[i + 1] === '\\') return i + 2
    }
    return text.length
  }
  if (next === '(' || next === ')' || next === '#' || next === '%') return Math.min(start + 3, text.length)
  return Math.min(start + 2, text.length)
}

function applySgr(current: RunStyle, paramText: string): RunStyle {
  const params = paramText === '' ? [0] : paramText.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)))
  const style: RunStyle = { ...current }
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!
    if (p === 0) {
      for (const key of Object.keys(style) as (keyof RunStyle)[]) delete style[key]
    } else if (p === 1) style.bold = true
    else if (p === 2) style.dim = true
    else if (p === 3) style.italic = true
    else if (p === 4) style.underline = true
    else if (p === 7) style.inverse = true
    else if (p === 9) style.strike = true
    else if (p === 22) delete style.bold, delete style.dim
    else if (p === 23) delete style.italic
    else if (p === 24) delete style.underline
    else if (p === 27) delete style.inverse
    else if (p === 29) delete style.strike
    else if (p >= 30 && p <= 37) style.fg = p - 30
    else if (p >= 90 && p <= 97) style.fg = p - 90 + 8
    else if (p === 39) delete style.fg
    else if (p >= 40 && p <= 47) style.bg = p - 40
    else if (p >= 100 && p <= 107) style.bg = p - 100 + 8
    else if (p === 49) delete style.bg
    else if (p === 38 || p === 48) {
      const [color, used] = extendedColor(params, i + 1)
      if (color !== undefined) {
        if (p === 38) style.fg = color
        else style.bg = color
      }
      i += used
    }
  }
  return style
}

/** `5;N` (256 colours) or `2;R;G;B` (true colour) after 38/48; returns the colour and how many params it used. */
function extendedColor(params: number[], at: number): [number | string | undefined, number] {
  const kind = params[at]
  if (kind === 5) {
    const n = params[at + 1]
    return [n !== undefined && n >= 0 && n <= 255 ? n : undefined, 2]
  }
  if (kind === 2) {
    const rgb = params.slice(at + 1, at + 4)
    if (rgb.length < 3 || rgb.some((c) => !(c >= 0 && c <= 255))) return [undefined, 4]
    return ['#' + rgb.map((c) => c.toString(16).padStart(2, '0')).join(''), 4]
  }
  return [undefined, 1]
}

/** The 16 basic colours, matching the terminal's dark theme. */
const BASE16 = [
  '#2e3436', '#ff7b72', '#6fdc8c', '#ffcf5c', '#7cc4ff', '#d2a8ff', '#56d4dd', '#d0d0d0',
  '#767676', '#ffa198', '#8ff0a4', '#ffe08a', '#a5d6ff', '#e2c5ff', '#8be9fd', '#ffffff',
]

/** A CSS colour for a palette index (xterm's 256-colour cube and grey ramp) or `#rrggbb`. */
export function cssColor(color: number | string): string {
  if (typeof color === 'string') return color
  if (color < 16) return BASE16[color]!
  if (color < 232) {
    const n = color - 16
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40)
    const hex = (v: number) => level(v).toString(16).padStart(2, '0')
    return `#${hex(Math.floor(n / 36))}${hex(Math.floor(n / 6) % 6)}${hex(n % 6)}`
  }
  const grey = (8 + (color - 232) * 10).toString(16).padStart(2, '0')
  return `#${grey}${grey}${grey}`
}
