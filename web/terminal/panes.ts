import { Terminal } from '@xterm/xterm'
import type { PaneJson } from '../../protocol/index.js'
import { h } from '../dom.js'
import type { Disposable } from '../lifetime.js'
import type { WindowLayout } from './socket.js'

/** Cell size of the overview's terminals, in CSS pixels before scaling. */
const OVERVIEW_FONT_SIZE = 14

interface PaneBox {
  term: Terminal
  box: HTMLElement
}

/**
 * All panes of a window laid out as on the desktop, scaled to the phone's
 * width: one small read-only terminal per pane, fed the same output as the
 * pane's own view. A tap on a pane shows that pane alone (`pick`).
 */
export class PaneOverview implements Disposable {
  readonly element: HTMLElement
  private readonly canvas: HTMLElement
  private readonly boxes = new Map<number, PaneBox>()
  private layout: WindowLayout | undefined
  private focused: number | undefined

  constructor(private readonly pick: (pane: number) => void) {
    this.canvas = h('div', { class: 'pane-canvas' })
    this.element = h('div', { class: 'pane-overview', 'data-testid': 'pane-overview', hidden: true }, this.canvas)
  }

  get visible(): boolean {
    return !this.element.hidden
  }

  show(focused: number | undefined): void {
    this.focused = focused
    this.element.hidden = false
    this.place()
  }

  hide(): void {
    this.element.hidden = true
  }

  /** Follows a new layout: panes added, gone, moved or resized. A window of one pane needs no overview. */
  update(layout: WindowLayout): void {
    this.layout = layout
    const ids = new Set(layout.panes.length > 1 ? layout.panes.map((p) => p.id) : [])
    for (const [id, box] of this.boxes) {
      if (ids.has(id)) continue
      box.term.dispose()
      box.box.remove()
      this.boxes.delete(id)
    }
    for (const pane of layout.panes) if (ids.has(pane.id)) this.boxFor(pane)
    if (ids.size === 0) this.hide()
    this.place()
  }

  /** A pane's output; `done` once it is drawn (or at once for a pane the overview does not know). */
  write(pane: number, bytes: Uint8Array, done: () => void): void {
    const box = this.boxes.get(pane)
    if (box) box.term.write(bytes, done)
    else done()
  }

  dispose(): void {
    for (const box of this.boxes.values()) box.term.dispose()
    this.boxes.clear()
    this.element.remove()
  }

  private boxFor(pane: PaneJson): PaneBox {
    let found = this.boxes.get(pane.id)
    if (!found) {
      const box = h('button', { type: 'button', class: 'pane-box', 'data-testid': `pane-box-${pane.id}`, 'aria-label': `Show pane ${pane.id} alone` })
      const term = new Terminal({
        fontSize: OVERVIEW_FONT_SIZE,
        fontFamily: 'ui-monospace, "SF Mono", Menlo, "DejaVu Sans Mono", "Noto Sans Mono", monospace',
        cols: Math.max(2, pane.cols),
        rows: Math.max(1, pane.rows),
        scrollback: 0,
        disableStdin: true,
        cursorBlink: false,
        theme: { background: '#111111', foreground: '#e6e6e6', cursor: '#e6e6e6' },
      })
      this.canvas.append(box)
      term.open(box)
      box.addEventListener('click', () => this.pick(pane.id))
      found = { term, box }
      this.boxes.set(pane.id, found)
    }
    if (found.term.cols !== pane.cols || found.term.rows !== pane.rows) found.term.resize(Math.max(2, pane.cols), Math.max(1, pane.rows))
    return found
  }

  /** Positions every pane by its cells and scales the whole window to the overview's width. */
  private place(): void {
    const layout = this.layout
    if (!layout || this.element.hidden) return
    const first = this.boxes.values().next().value as PaneBox | undefined
    const screen = first?.term.element?.querySelector<HTMLElement>('.xterm-screen')
    if (!first || !screen || screen.offsetWidth === 0) return
    const cellWidth = screen.offsetWidth / first.term.cols
    const cellHeight = screen.offsetHeight / first.term.rows
    for (const pane of layout.panes) {
      const box = this.boxes.get(pane.id)?.box
      if (!box) continue
      box.style.left = `${pane.x * cellWidth}px`
      box.style.top = `${pane.y * cellHeight}px`
      box.toggleAttribute('data-active', pane.active)
      box.toggleAttribute('data-focused', pane.id === this.focused)
    }
    const width = layout.cols * cellWidth
    const scale = Math.min(1, this.element.clientWidth / Math.max(1, width))
    this.canvas.style.width = `${width}px`
    this.canvas.style.height = `${layout.rows * cellHeight}px`
    this.canvas.style.transform = `scale(${scale})`
  }
}

export interface PaneSwitcherDeps {
  /** Tells the server which pane keys go to, and whether it is shown alone (one of several). */
  focus(pane: number, zoom: boolean): void
  /** The shown pane changed (focus the terminal). */
  shown(): void
}

/**
 * Which pane of the window the terminal shows: the window's active pane
 * until the user picks another in the pane bar or the overview. Owns both.
 * A newly shown pane's output is held back until its sync arrives: what came
 * before was drawn for another pane's terminal.
 */
export class PaneSwitcher implements Disposable {
  readonly bar = h('div', { class: 'pane-bar', 'data-testid': 'pane-bar', hidden: true })
  readonly overview = new PaneOverview((pane) => this.show(pane))
  private layout: WindowLayout | undefined
  private shownPane: number | undefined
  private awaitingSync = true

  constructor(private readonly deps: PaneSwitcherDeps) {}

  /** The pane the terminal shows (undefined before the first layout). */
  get shown(): number | undefined {
    return this.shownPane
  }

  /** The window has several panes: the overview gets every pane's output too. */
  get several(): boolean {
    return (this.layout?.panes.length ?? 1) > 1
  }

  /** Follows a layout frame; returns the shown pane (its size is the terminal's). */
  apply(layout: WindowLayout): PaneJson | undefined {
    this.layout = layout
    this.overview.update(layout)
    if (this.shownPane === undefined || !layout.panes.some((p) => p.id === this.shownPane)) {
      this.shownPane = (layout.panes.find((p) => p.active) ?? layout.panes[0])?.id
      this.awaitingSync = true
      if (this.shownPane !== undefined && this.several) this.deps.focus(this.shownPane, true)
    }
    this.render()
    return layout.panes.find((p) => p.id === this.shownPane)
  }

  /** A sync frame: true when it is the shown pane's (its output is the terminal's from now on). */
  synced(pane: number): boolean {
    if (pane !== this.shownPane) return false
    this.awaitingSync = false
    return true
  }

  /** Whether output of `pane` goes to the terminal. */
  isShown(pane: number): boolean {
    return pane === this.shownPane && !this.awaitingSync
  }

  show(pane: number): void {
    this.overview.hide()
    if (pane !== this.shownPane) {
      this.shownPane = pane
      this.awaitingSync = true
    }
    this.deps.focus(pane, this.several)
    this.render()
    this.deps.shown()
  }

  dispose(): void {
    this.overview.dispose()
    this.bar.remove()
  }

  private render(): void {
    const panes = this.layout?.panes ?? []
    this.bar.hidden = panes.length < 2
    if (panes.length < 2) return
    const all = h('button', { type: 'button', class: 'pane-chip', 'data-testid': 'pane-all', 'aria-pressed': String(this.overview.visible) }, '▦ all')
    all.addEventListener('click', () => {
      if (this.overview.visible) this.overview.hide()
      else this.overview.show(this.shownPane)
      this.render()
    })
    this.bar.replaceChildren(
      all,
      ...panes.map((p, i) => {
        const pressed = p.id === this.shownPane && !this.overview.visible
        const chip = h('button', { type: 'button', class: 'pane-chip', 'data-testid': `pane-${p.id}`, 'aria-pressed': String(pressed) }, `${i + 1}${p.active ? ' •' : ''}`)
        chip.addEventListener('click', () => this.show(p.id))
        return chip
      }),
    )
  }
}
