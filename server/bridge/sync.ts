import type { PaneModes, PaneSnapshot } from '../tmux/panes.js'

/**
 * How a viewer is brought to a pane's current state:
 * - `full`: from scratch (a new viewer, or one that missed output): reset,
 *   history into the scrollback, the screen, the modes.
 * - `screen`: redraw the visible screen and modes over what the viewer has,
 *   keeping its scrollback (while a flood of output is shown as frames).
 */
export type SyncKind = 'full' | 'screen'

const ESC = '\x1b'
const CSI = `${ESC}[`
const decset = (mode: number | string, on: boolean) => `${CSI}?${mode}${on ? 'h' : 'l'}`
const at = (row: number, col = 0) => `${CSI}${row + 1};${col + 1}H`

/** Rows drawn top-down by absolute position, each closed with a reset so its colours end with it. */
function drawRows(rows: readonly string[], count: number): string {
  let out = ''
  for (let r = 0; r < Math.min(count, rows.length); r++) out += `${at(r)}${rows[r]}${CSI}0m`
  return out
}

/**
 * The modes a program set, then the cursor. With `explicit`, modes are set
 * both ways (the viewer's current modes are unknown); after a reset only
 * those that differ from a terminal's defaults need saying.
 */
function modesAndCursor(m: PaneModes, explicit: boolean): string {
  const flags: [number | string, boolean, boolean][] = [
    // [mode, on, default]
    [1, m.appCursor, false],
    [7, m.wrap, true],
    [1000, m.mouseStandard, false],
    [1002, m.mouseButton, false],
    [1003, m.mouseAll, false],
    [1005, m.mouseUtf8, false],
    [1006, m.mouseSgr, false],
  ]
  if (m.bracketedPaste !== null) flags.push([2004, m.bracketedPaste, false])
  let out = ''
  for (const [mode, on, byDefault] of flags) if (explicit || on !== byDefault) out += decset(mode, on)
  if (explicit || m.insert) out += `${CSI}4${m.insert ? 'h' : 'l'}`
  if (explicit || m.appKeypad) out += m.appKeypad ? `${ESC}=` : `${ESC}>`
  if (m.tabs) out += `${CSI}3g${m.tabs.map((t) => `${at(0, t)}${ESC}H`).join('')}`
  const fullRegion = m.scrollTop === 0 && m.scrollBottom >= m.rows - 1
  if (explicit || !fullRegion) out += fullRegion ? `${CSI}r` : `${CSI}${m.scrollTop + 1};${m.scrollBottom + 1}r`
  // DECOM homes the cursor and makes positions relative to the region: set it before placing the cursor.
  if (explicit || m.origin) out += decset(6, m.origin)
  out += m.origin ? at(m.cursorY - m.scrollTop, m.cursorX) : at(m.cursorY, m.cursorX)
  if (explicit || !m.cursorVisible) out += decset(25, m.cursorVisible)
  return out
}

/**
 * The bytes that bring a terminal of the pane's size to the pane's state, as
 * tmux holds it: what a direct attach would show, for xterm.js to interpret
 * as it interprets the program's own output afterwards. Pure.
 */
export function renderSync(snapshot: PaneSnapshot, kind: SyncKind): Buffer {
  const { modes: m, history, screen, normal } = snapshot
  let out = ''
  if (kind === 'full') {
    out += `${ESC}c`
    if (history.length > 0) out += `${history.join(`${CSI}0m\r\n`)}${CSI}0m${'\r\n'.repeat(m.rows)}`
    if (m.alternate) {
      out += drawRows(normal, m.rows)
      // 1049 saves the cursor for the program's return to the normal screen.
      out += `${at(m.savedY, m.savedX)}${decset(1049, true)}`
    }
    out += drawRows(screen, m.rows)
  } else {
    out += `${CSI}0m${decset(25, false)}${decset(1049, m.alternate)}${CSI}r${decset(6, false)}${CSI}2J`
    out += drawRows(screen, m.rows)
  }
  out += modesAndCursor(m, kind === 'screen')
  return Buffer.from(out, 'utf8')
}
