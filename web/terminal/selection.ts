import type { Terminal } from '@xterm/xterm'
import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'

/** Compatibility mouse events this soon after a long-press ends are the press's own tap, not a new one. */
const PRESS_TAP_MS = 800
/** Space between the selection bar and what it selects. */
const BAR_GAP_PX = 8
/** The handles sit below the text they hold; a dragging finger points this far above its touch. */
const HANDLE_REACH_PX = 28

interface Cell {
  col: number
  /** A line of the buffer (scrollback included). */
  row: number
}

/**
 * Selection on a touch screen, like a native terminal's: a long-press
 * selects the word under the finger, moving the finger on extends it word by
 * word, and two handles extend it by character. A bar over the terminal
 * copies (keeping the keyboard as it was) or widens it to whole lines.
 * Select-screen and copy-last-output are the menu's.
 */
export class TouchSelection implements Disposable {
  /** The handles and the selection bar, placed over the terminal's body. */
  readonly elements: HTMLElement[]
  private readonly store = new DisposableStore()
  private readonly startHandle = handle('start')
  private readonly endHandle = handle('end')
  private readonly bar: HTMLElement
  private readonly copyButton: HTMLButtonElement
  /** The word the long-press selected: moving the finger extends from it. */
  private anchor: { start: Cell; end: Cell } | undefined
  /** When the last long-press ended; -Infinity before any, so a mouse click right after the page loads is not taken for its tap. */
  private pressEndedAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly term: Terminal,
    private readonly body: HTMLElement,
    host: HTMLElement,
  ) {
    this.copyButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'copy' }, 'Copy')
    const lines = h('button', { type: 'button', 'data-testid': 'select-lines', title: 'Whole lines' }, 'Lines')
    const cancel = h('button', { type: 'button', 'data-testid': 'select-cancel', 'aria-label': 'Clear the selection' }, '✕')
    this.bar = h('div', { class: 'selection-bar', 'data-testid': 'selection-bar', hidden: true }, this.copyButton, lines, cancel)
    this.elements = [this.startHandle, this.endHandle, this.bar]
    for (const button of [this.copyButton, lines, cancel]) keepFocusOnTap(this.store, button)
    this.store.listen(this.copyButton, 'click', () => void this.copy())
    this.store.listen(lines, 'click', () => this.widenToLines())
    this.store.listen(cancel, 'click', () => term.clearSelection())
    this.dragHandle(this.startHandle, 'start')
    this.dragHandle(this.endHandle, 'end')
    this.store.add(term.onSelectionChange(() => this.place()))
    this.store.add(term.onScroll(() => this.place()))
    this.store.add(term.onRender(() => this.place()))
    // The tap that ends a long-press must not reach xterm.js, which would clear the new selection.
    for (const type of ['mousedown', 'mouseup', 'click']) {
      this.store.listen(
        host,
        type,
        (event) => {
          if (performance.now() - this.pressEndedAt > PRESS_TAP_MS) return
          event.stopPropagation()
          event.preventDefault()
        },
        { capture: true },
      )
    }
  }

  /** A long-press at (x, y): selects the word there (on a blank, the line's text). */
  press(x: number, y: number): void {
    const cell = this.cellAt(x, y)
    if (!cell) return
    const word = this.wordAt(cell)
    if (!word) return
    this.anchor = word
    this.selectRange(word.start, word.end)
    this.pressEndedAt = performance.now()
    navigator.vibrate?.(10)
  }

  /** The pressing finger moved to (x, y): the selection runs from the pressed word to the word there. */
  pressMove(x: number, y: number): void {
    this.pressEndedAt = performance.now()
    const cell = this.cellAt(x, y)
    if (!cell || !this.anchor) return
    const word = this.wordAt(cell) ?? { start: cell, end: cell }
    if (before(word.start, this.anchor.start)) this.selectRange(word.start, this.anchor.end)
    else this.selectRange(this.anchor.start, word.end)
  }

  /** The visible screen, whole lines. */
  selectScreen(): void {
    const top = this.term.buffer.active.viewportY
    this.term.selectLines(top, top + this.term.rows - 1)
  }

  /**
   * Selects what the last command printed: the lines between the prompt the
   * cursor is on and the previous line that starts with the same prompt.
   * False when no such output is found (not a shell, or no command yet).
   */
  selectLastOutput(): boolean {
    const buffer = this.term.buffer.active
    const cursorRow = buffer.baseY + buffer.cursorY
    const prompt = promptOf(buffer.getLine(cursorRow)?.translateToString(true).slice(0, buffer.cursorX) ?? '')
    if (!prompt) return false
    for (let row = cursorRow - 1; row >= 0; row--) {
      if (!buffer.getLine(row)?.translateToString(true).startsWith(prompt)) continue
      if (row + 1 > cursorRow - 1) return false
      this.term.selectLines(row + 1, cursorRow - 1)
      return true
    }
    return false
  }

  /** Copies the selection; the keyboard stays as it was. */
  async copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.term.getSelection())
      this.term.clearSelection()
    } catch {
      this.copyButton.textContent = 'Copy failed'
    }
  }

  dispose(): void {
    this.store.dispose()
  }

  private widenToLines(): void {
    const range = this.term.getSelectionPosition()
    if (!range) return
    // The end is exclusive: a selection ending at column 0 ends on the line before.
    const endRow = range.end.x === 0 && range.end.y > range.start.y ? range.end.y - 1 : range.end.y
    this.term.selectLines(range.start.y, endRow)
  }

  private selectRange(start: Cell, end: Cell): void {
    const length = (end.row - start.row) * this.term.cols + end.col - start.col + 1
    if (length > 0) this.term.select(start.col, start.row, length)
  }

  /** The cell under a point on the screen, clamped to the visible rows, or undefined before layout. */
  private cellAt(x: number, y: number): Cell | undefined {
    const rect = this.screenRect()
    if (!rect) return undefined
    const clamp = (n: number, max: number) => Math.min(max, Math.max(0, n))
    const col = clamp(Math.floor(((x - rect.left) / rect.width) * this.term.cols), this.term.cols - 1)
    const viewportRow = clamp(Math.floor(((y - rect.top) / rect.height) * this.term.rows), this.term.rows - 1)
    return { col, row: this.term.buffer.active.viewportY + viewportRow }
  }

  /** The word at a cell; on a blank, the line's text; undefined on an empty line. */
  private wordAt(cell: Cell): { start: Cell; end: Cell } | undefined {
    const text = this.term.buffer.active.getLine(cell.row)?.translateToString(false) ?? ''
    const isWord = (ch: string | undefined) => ch !== undefined && ch !== ' ' && ch !== ''
    if (!isWord(text[cell.col])) {
      const trimmed = text.trimEnd()
      return trimmed ? { start: { col: 0, row: cell.row }, end: { col: trimmed.length - 1, row: cell.row } } : undefined
    }
    let start = cell.col
    let end = cell.col
    while (start > 0 && isWord(text[start - 1])) start--
    while (end < text.length - 1 && isWord(text[end + 1])) end++
    return { start: { col: start, row: cell.row }, end: { col: end, row: cell.row } }
  }

  private screenRect(): DOMRect | undefined {
    const rect = this.term.element?.querySelector('.xterm-screen')?.getBoundingClientRect()
    return rect && rect.width > 0 && rect.height > 0 ? rect : undefined
  }

  /** Puts the handles at the selection's ends and the bar above it; hides them without a selection. */
  private place(): void {
    const range = this.term.hasSelection() ? this.term.getSelectionPosition() : undefined
    const rect = this.screenRect()
    this.bar.hidden = range === undefined
    if (!range || !rect) {
      this.startHandle.hidden = this.endHandle.hidden = true
      return
    }
    this.copyButton.textContent = 'Copy'
    const origin = this.body.getBoundingClientRect()
    const cellWidth = rect.width / this.term.cols
    const rowHeight = rect.height / this.term.rows
    const top = this.term.buffer.active.viewportY
    const put = (element: HTMLElement, col: number, row: number) => {
      const visible = row >= top && row < top + this.term.rows
      element.hidden = !visible
      element.style.left = `${rect.left - origin.left + col * cellWidth}px`
      element.style.top = `${rect.top - origin.top + (row - top + 1) * rowHeight}px`
    }
    put(this.startHandle, range.start.x, range.start.y)
    put(this.endHandle, range.end.x, range.end.y)
    // The bar goes above the selection, or below its end handle where there is no room above: never over what it selects.
    const startTop = rect.top - origin.top + (range.start.y - top) * rowHeight
    const endHandleBottom = rect.top - origin.top + (range.end.y - top + 1) * rowHeight + this.endHandle.offsetHeight
    const barHeight = this.bar.offsetHeight
    const above = startTop - barHeight - BAR_GAP_PX
    const below = Math.min(endHandleBottom + BAR_GAP_PX, origin.height - barHeight - BAR_GAP_PX)
    this.bar.style.top = `${above >= 0 ? above : Math.max(0, below)}px`
  }

  /** A handle follows the finger cell by cell; dragged past the other end, the two swap roles. */
  private dragHandle(element: HTMLElement, end: 'start' | 'end'): void {
    this.store.listen(element, 'pointerdown', (event) => {
      const e = event as PointerEvent
      element.setPointerCapture(e.pointerId)
      e.preventDefault()
    })
    this.store.listen(element, 'pointermove', (event) => {
      const e = event as PointerEvent
      if (!element.hasPointerCapture(e.pointerId)) return
      const range = this.term.getSelectionPosition()
      const cell = this.cellAt(e.clientX, e.clientY - HANDLE_REACH_PX)
      if (!range || !cell) return
      const start = { col: range.start.x, row: range.start.y }
      // The range's end is exclusive; handles work on the last selected cell.
      const last = range.end.x > 0 ? { col: range.end.x - 1, row: range.end.y } : { col: this.term.cols - 1, row: range.end.y - 1 }
      const fixed = end === 'start' ? last : start
      if (before(cell, fixed)) this.selectRange(cell, fixed)
      else this.selectRange(fixed, cell)
    })
  }
}

function handle(end: 'start' | 'end'): HTMLElement {
  return h('div', { class: `selection-handle ${end}`, 'data-testid': `selection-${end}`, hidden: true })
}

const before = (a: Cell, b: Cell) => a.row < b.row || (a.row === b.row && a.col < b.col)

/**
 * The prompt at the start of a line: up to and including the last prompt
 * mark (`$ `, `# `, `% `, `> `, `❯ `) before the cursor. Empty without one.
 */
export function promptOf(beforeCursor: string): string {
  const match = /^.*?[$#%>❯] /u.exec(beforeCursor)
  return match ? match[0] : ''
}

/** Tapping the control does not take the focus from the terminal (the phone's keyboard stays as it is). */
function keepFocusOnTap(store: DisposableStore, button: HTMLElement): void {
  store.listen(button, 'pointerdown', (event) => event.preventDefault())
  store.listen(button, 'mousedown', (event) => event.preventDefault())
}
