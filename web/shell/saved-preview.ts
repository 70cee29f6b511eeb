import { h } from '../dom.js'
import { readSavedScreen } from '../terminal/saved-screens.js'
import { parseSgr, type Line } from '../terminal/sgr.js'
import type { TerminalTarget } from '../terminal/socket.js'
import { renderLines } from '../terminal/styled-lines.js'
import './saved-preview.css'

/** How the serializer switches to the alternate screen: what follows is the screen a full-screen program showed. */
const ALT_SCREEN_ON = '\x1b[?1049h'
/** A monospace cell is about this wide, in em: the preview's font shrinks until the saved width fits the phone. */
const CELL_WIDTH_EM = 0.6

/**
 * A tab's saved screen as styled text, shown while xterm.js loads, so
 * reopening a tab shows its last screen at once rather than after the
 * terminal's chunk has been read and started. Text nodes only (renderLines):
 * nothing in a saved screen is read as markup. Undefined when none is saved.
 */
export function savedScreenPreview(target: TerminalTarget, fontSizePx: number): HTMLElement | undefined {
  const saved = readSavedScreen(target)
  if (!saved) return undefined
  const preview = h('div', { class: 'saved-preview', 'data-testid': 'saved-preview', 'aria-hidden': 'true' })
  preview.style.width = `${saved.cols}ch`
  preview.style.fontSize = `min(${fontSizePx}px, calc(100vw / ${(saved.cols * CELL_WIDTH_EM).toFixed(1)}))`
  preview.append(renderLines(screenLines(saved.data, saved.rows)))
  return preview
}

/**
 * The rows of a serialized screen: the screen that was shown (the alternate
 * one, if a program had switched to it), with the gaps the serializer wrote
 * as cursor moves forward turned back into spaces. parseSgr keeps colours
 * and drops every other control sequence.
 */
export function screenLines(data: string, rows: number): Line[] {
  const alt = data.lastIndexOf(ALT_SCREEN_ON)
  const shown = alt < 0 ? data : data.slice(alt + ALT_SCREEN_ON.length)
  const text = shown.replace(/\x1b\[(\d{0,4})C/g, (_move, count: string) => ' '.repeat(Number(count || 1))).replace(/\r\n/g, '\n')
  return parseSgr(text).slice(0, rows)
}
