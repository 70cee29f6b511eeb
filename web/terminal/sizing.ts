import type { Terminal } from '@xterm/xterm'
import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { clampFontSize, FONT_SIZE, policyFor, type SizePolicy, type TerminalPrefs } from './settings.js'
import { TerminalLayout } from './viewport.js'

/** The menu's A−/A+ in the desktop view scale by this factor. */
const ZOOM_STEP = 1.15

export interface SizingDeps {
  prefs: TerminalPrefs
  /** A read-only phone always watches at desktop size. */
  readOnly: boolean
  /** Persists `prefs`. */
  save(): void
  /** The phone's size in cells changed: what `fit` asks the window to take. */
  resized(cols: number, rows: number): void
  /** The size policy changed: the terminal starts over with it. */
  policyChanged(policy: SizePolicy): void
  /** The text size as the menu shows it. */
  showSize(label: string): void
}

/**
 * The terminal's size and scale, as the user sets them: in the fit view the
 * font size (menu, pinch) decides how many cells fill the phone; in the
 * desktop view the window keeps its size and the user zooms (pinch, menu,
 * "Fit width") and pans, with the view following the cursor until they pan
 * away ("Follow cursor" brings it back).
 */
export class TerminalSizing implements Disposable {
  readonly layout: TerminalLayout
  /** "Fit width" and "Follow cursor", over the desktop view. */
  readonly viewControls: HTMLElement
  /** The phone's size in cells at its font: what `fit` asks the window to take. */
  wanted: { cols: number; rows: number }
  private readonly store = new DisposableStore()
  private readonly followButton: HTMLButtonElement
  private pinchStart: { fontSize: number; scale: number } | undefined

  constructor(
    private readonly term: Terminal,
    host: HTMLElement,
    sizer: HTMLElement,
    private readonly deps: SizingDeps,
  ) {
    this.layout = new TerminalLayout(term, host, sizer)
    this.layout.mode = this.policy
    this.layout.desktopZoom = deps.prefs.desktopZoom
    this.wanted = { cols: term.cols, rows: term.rows }
    const fitWidth = h('button', { type: 'button', 'data-testid': 'fit-width', title: 'Whole lines, however small' }, 'Fit width')
    this.followButton = h('button', { type: 'button', 'data-testid': 'follow-cursor', 'aria-pressed': 'true', title: 'Keep the cursor in view' }, 'Follow cursor')
    this.viewControls = h('div', { class: 'view-controls', 'data-testid': 'view-controls' }, fitWidth, this.followButton)
    this.store.listen(fitWidth, 'click', () => this.setDesktopZoom('fit-width'))
    this.store.listen(this.followButton, 'click', () => {
      this.layout.followCursor = !this.layout.followCursor
      this.layout.keepCursorInView()
      this.showFollow()
    })
    this.showControls()
  }

  get policy(): SizePolicy {
    return policyFor(this.deps.prefs, this.deps.readOnly)
  }

  /** Fits the terminal to the space it has now, and tells the server when the phone's size in cells changed. */
  refit(): void {
    const proposal = this.layout.refit()
    this.showFollow()
    if (!proposal || (proposal.cols === this.wanted.cols && proposal.rows === this.wanted.rows)) return
    this.wanted = proposal
    this.deps.resized(proposal.cols, proposal.rows)
  }

  /** The pane shown has this size in cells (the terminal always has it). */
  setPane(cols: number, rows: number): void {
    this.layout.pane = { cols, rows }
    this.refit()
  }

  /** Pans a view larger than the phone; returns the vertical part it could not take (for scrolling the terminal). */
  pan(dx: number, dy: number): number {
    const rest = this.layout.pan(dx, dy)
    this.showFollow()
    return rest
  }

  /** One step larger or smaller text: the font in the fit view, the zoom in the desktop view. */
  step(delta: 1 | -1): void {
    if (this.policy === 'fit') this.setFontSize(this.deps.prefs.fontSize + delta)
    else this.setDesktopZoom(this.layout.currentScale * ZOOM_STEP ** delta)
    this.deps.save()
  }

  choosePolicy(policy: SizePolicy): void {
    if (this.deps.readOnly || this.deps.prefs.sizePolicy === policy) return
    this.deps.prefs.sizePolicy = policy
    this.deps.save()
    this.layout.mode = policy
    this.term.options.fontSize = policy === 'fit' ? this.deps.prefs.fontSize : FONT_SIZE.desktop
    this.refit()
    this.showControls()
    this.deps.policyChanged(policy)
  }

  /** The fonts to start the terminal with. */
  get fontSize(): number {
    return this.policy === 'desktop' ? FONT_SIZE.desktop : this.deps.prefs.fontSize
  }

  readonly pinch = {
    start: () => {
      this.pinchStart = { fontSize: this.deps.prefs.fontSize, scale: this.layout.currentScale }
    },
    /** Fingers `ratio` times as far apart as they started, centred on (x, y). */
    change: (ratio: number, x: number, y: number) => {
      if (!this.pinchStart) return
      if (this.policy === 'fit') {
        const size = clampFontSize(this.pinchStart.fontSize * ratio)
        if (size !== this.deps.prefs.fontSize) this.setFontSize(size)
        return
      }
      this.layout.zoomAt(this.pinchStart.scale * ratio, x, y)
      this.deps.prefs.desktopZoom = this.layout.desktopZoom
      this.showSize()
      this.showFollow()
    },
    end: () => {
      this.pinchStart = undefined
      this.deps.save()
    },
  }

  dispose(): void {
    this.store.dispose()
  }

  private setFontSize(size: number): void {
    this.deps.prefs.fontSize = clampFontSize(size)
    this.term.options.fontSize = this.deps.prefs.fontSize
    this.refit()
    this.showSize()
  }

  private setDesktopZoom(zoom: TerminalPrefs['desktopZoom']): void {
    this.layout.desktopZoom = zoom
    this.deps.prefs.desktopZoom = zoom
    this.deps.save()
    this.refit()
    this.showSize()
  }

  private showSize(): void {
    this.deps.showSize(this.policy === 'fit' ? `${this.deps.prefs.fontSize}px` : `${Math.round(this.layout.currentScale * 100)}%`)
  }

  private showControls(): void {
    this.viewControls.hidden = this.policy !== 'desktop'
    this.showSize()
  }

  private showFollow(): void {
    this.followButton.setAttribute('aria-pressed', String(this.layout.followCursor))
  }
}
