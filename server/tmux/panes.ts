import type { PaneJson } from '../../protocol/index.js'
import { HandoffError } from '../errors.js'
import { recordFormat } from './records.js'

/** Commands run back to back on one control client: `ControlClient.run`. */
export type RunCommands = (commands: readonly (readonly string[])[]) => Promise<string[][]>

/** A pane's place in its window, in cells, as the phone is told it. */
export type PaneGeometry = PaneJson

export interface WindowLayout {
  windowId: string
  sessionName: string
  windowIndex: number
  windowName: string
  cols: number
  rows: number
  /** The desktop zoomed one pane: only it is shown, at the window's size. */
  zoomed: boolean
  panes: PaneGeometry[]
}

const LAYOUT_FIELDS = {
  pane: '#{pane_id}',
  left: '#{pane_left}',
  top: '#{pane_top}',
  width: '#{pane_width}',
  height: '#{pane_height}',
  active: '#{pane_active}',
  windowId: '#{window_id}',
  windowWidth: '#{window_width}',
  windowHeight: '#{window_height}',
  zoomed: '#{window_zoomed_flag}',
  windowIndex: '#{window_index}',
  windowName: '#{window_name}',
  sessionName: '#{session_name}',
} as const

const int = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : 0)
const paneNumber = (id: string): number => int(id.slice(1))

/** The panes of window `windowId` (`@7`) and where they are. */
export async function windowLayout(run: RunCommands, windowId: string): Promise<WindowLayout> {
  const { format, parse } = recordFormat(LAYOUT_FIELDS)
  const [out = []] = await run([['list-panes', '-t', windowId, '-F', format]])
  const rows = parse(out.join('\n'))
  const first = rows[0]
  if (!first) throw new HandoffError('WINDOW_NOT_FOUND', 404, `window ${windowId} has no panes`)
  const zoomed = first.zoomed === '1'
  const panes = rows
    .filter((r) => !zoomed || r.active === '1')
    .map((r) => ({
      id: paneNumber(r.pane),
      x: zoomed ? 0 : int(r.left),
      y: zoomed ? 0 : int(r.top),
      cols: zoomed ? int(r.windowWidth) : int(r.width),
      rows: zoomed ? int(r.windowHeight) : int(r.height),
      active: r.active === '1',
    }))
  return {
    windowId: first.windowId,
    sessionName: first.sessionName,
    windowIndex: int(first.windowIndex),
    windowName: first.windowName,
    cols: int(first.windowWidth),
    rows: int(first.windowHeight),
    zoomed,
    panes,
  }
}

/** The terminal state of a pane that a new viewer must start from (tmux(1), FORMATS). */
export interface PaneModes {
  cols: number
  rows: number
  cursorX: number
  cursorY: number
  cursorVisible: boolean
  alternate: boolean
  /** Where the cursor was on the normal screen when the program switched to the alternate one. */
  savedX: number
  savedY: number
  scrollTop: number
  scrollBottom: number
  insert: boolean
  appCursor: boolean
  appKeypad: boolean
  wrap: boolean
  origin: boolean
  mouseStandard: boolean
  mouseButton: boolean
  mouseAll: boolean
  mouseSgr: boolean
  mouseUtf8: boolean
  /** Only tmux 3.7 and later say; null when unknown (pastes go through tmux, which knows). */
  bracketedPaste: boolean | null
  /** Tab stops, when not every 8 columns. */
  tabs: number[] | null
  /** Lines of history tmux holds for the pane (older ones may be asked for later). */
  historySize: number
}

const MODE_FIELDS = {
  cols: '#{pane_width}',
  rows: '#{pane_height}',
  cursorX: '#{cursor_x}',
  cursorY: '#{cursor_y}',
  cursorFlag: '#{cursor_flag}',
  alternate: '#{alternate_on}',
  savedX: '#{alternate_saved_x}',
  savedY: '#{alternate_saved_y}',
  scrollTop: '#{scroll_region_upper}',
  scrollBottom: '#{scroll_region_lower}',
  insert: '#{insert_flag}',
  appCursor: '#{keypad_cursor_flag}',
  appKeypad: '#{keypad_flag}',
  wrap: '#{wrap_flag}',
  origin: '#{origin_flag}',
  mouseStandard: '#{mouse_standard_flag}',
  mouseButton: '#{mouse_button_flag}',
  mouseAll: '#{mouse_all_flag}',
  mouseSgr: '#{mouse_sgr_flag}',
  mouseUtf8: '#{mouse_utf8_flag}',
  bracketedPaste: '#{bracket_paste_flag}',
  tabs: '#{pane_tabs}',
  historySize: '#{history_size}',
} as const

/** What a viewer needs to draw a pane as it is: its modes, history, screen and (on the alternate screen) the normal one. */
export interface PaneSnapshot {
  modes: PaneModes
  /** Lines that scrolled off, oldest first, with their colours (SGR). */
  history: string[]
  /** The visible rows, with colours. */
  screen: string[]
  /** The normal screen's rows while the program shows the alternate one; else empty. */
  normal: string[]
}

function parseModes(row: Record<keyof typeof MODE_FIELDS, string>): PaneModes {
  const on = (s: string) => s === '1'
  const rows = int(row.rows)
  const tabs = row.tabs.split(',').filter((t) => /^\d+$/.test(t)).map(Number)
  const everyEight = tabs.every((t, i) => t === (i + 1) * 8)
  return {
    cols: int(row.cols),
    rows,
    cursorX: int(row.cursorX),
    cursorY: int(row.cursorY),
    cursorVisible: row.cursorFlag !== '0',
    alternate: on(row.alternate),
    savedX: int(row.savedX),
    savedY: int(row.savedY),
    scrollTop: int(row.scrollTop),
    scrollBottom: row.scrollBottom === '' ? Math.max(0, rows - 1) : int(row.scrollBottom),
    insert: on(row.insert),
    appCursor: on(row.appCursor),
    appKeypad: on(row.appKeypad),
    wrap: row.wrap !== '0',
    origin: on(row.origin),
    mouseStandard: on(row.mouseStandard),
    mouseButton: on(row.mouseButton),
    mouseAll: on(row.mouseAll),
    mouseSgr: on(row.mouseSgr),
    mouseUtf8: on(row.mouseUtf8),
    bracketedPaste: row.bracketedPaste === '' ? null : on(row.bracketedPaste),
    tabs: everyEight ? null : tabs,
    historySize: int(row.historySize),
  }
}

/**
 * The commands whose replies `parseSnapshot` reads, for pane `%pane` with up
 * to `historyLines` of history. Run them as one line: tmux answers all three
 * from the same instant, and output after it follows their replies.
 */
export function snapshotCommands(pane: number, historyLines: number): { commands: string[][]; parse: (replies: string[][]) => PaneSnapshot } {
  const target = `%${pane}`
  const { format, parse } = recordFormat(MODE_FIELDS)
  const start = String(-Math.max(0, Math.floor(historyLines)))
  return {
    commands: [
      ['display-message', '-p', '-t', target, format],
      // No -J: one line per row, so the last `rows` lines are the screen.
      ['capture-pane', '-p', '-e', '-S', start, '-t', target],
      ['capture-pane', '-p', '-e', '-a', '-q', '-t', target],
    ],
    parse: ([modeLines = [], lines = [], normal = []]) => {
      const row = parse(modeLines.join('\n'))[0]
      if (!row) throw new HandoffError('TMUX_FAILED', 503, `tmux did not describe pane ${target}`)
      const modes = parseModes(row)
      const split = Math.max(0, lines.length - modes.rows)
      return {
        modes,
        history: historyLines > 0 ? lines.slice(0, split) : [],
        screen: lines.slice(split),
        normal: modes.alternate ? normal : [],
      }
    },
  }
}
