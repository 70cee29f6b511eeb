import type { Terminal } from '@xterm/xterm'
import type { DisposableStore } from '../lifetime.js'
import type { SizePolicy } from './settings.js'

/** The screen is never scaled below this (pan instead). */
export const MIN_DESKTOP_SCALE = 0.3

/**
 * Sizes the terminal. xterm always has the pane's own size in cells (the
 * program's output is drawn for it), given by the server's layout frames.
 * "fit": at the phone's font size, scaled down only while the pane is wider
 * than the phone (before the window took the phone's size); `refit` returns
 * the size in cells that would fill the phone, for the server. "desktop": at
 * the desktop font size, scaled to the host's width times `zoom`; the host
 * pans when zoomed in. After every change the cursor row stays in view.
 */
export class TerminalLayout {
  mode: SizePolicy = 'fit'
  /** The pane's size in cells, from the server; undefined until the first layout. */
  pane: { cols: number; rows: number } | undefined
  /** "desktop" only: 1 is the host's width, more zooms in. */
  zoom = 1

  constructor(
    private readonly term: Terminal,
    private readonly host: HTMLElement,
    private readonly sizer: HTMLElement,
  ) {}

  /** Applies size and scale; returns the cells that would fill the host at this font (undefined while it has no size). */
  refit(): { cols: number; rows: number } | undefined {
    const element = this.term.element
    if (!element) return undefined
    this.host.dataset.size = this.mode
    if (this.pane && (this.term.cols !== this.pane.cols || this.term.rows !== this.pane.rows)) {
      this.term.resize(Math.max(2, this.pane.cols), Math.max(1, this.pane.rows))
    }
    const screen = element.querySelector<HTMLElement>('.xterm-screen')
    const width = screen?.offsetWidth ?? 0
    const height = screen?.offsetHeight ?? 0
    const hostWidth = this.host.clientWidth
    const hostHeight = this.host.clientHeight
    if (width === 0 || hostWidth === 0) return undefined
    const fitScale = hostWidth / width
    const scale = this.mode === 'fit' ? Math.min(1, fitScale) : Math.max(MIN_DESKTOP_SCALE, fitScale * this.zoom)
    element.style.width = `${width}px`
    element.style.height = `${height}px`
    element.style.transform = scale === 1 ? '' : `scale(${scale})`
    this.sizer.style.width = `${Math.ceil(width * scale)}px`
    this.sizer.style.height = `${Math.ceil(height * scale)}px`
    this.keepCursorInView()
    const cellWidth = width / this.term.cols
    const cellHeight = height / this.term.rows
    return { cols: Math.max(2, Math.floor(hostWidth / cellWidth)), rows: Math.max(2, Math.floor(hostHeight / cellHeight)) }
  }

  /** Shows the last rows, and pans the host to the cursor row when the screen is taller than it. */
  keepCursorInView(): void {
    this.term.scrollToBottom()
    const rows = this.term.rows
    const rowHeight = this.sizer.offsetHeight / Math.max(1, rows)
    const cursorBottom = (this.term.buffer.active.cursorY + 1) * rowHeight
    if (cursorBottom > this.host.scrollTop + this.host.clientHeight) this.host.scrollTop = cursorBottom - this.host.clientHeight
    else if (cursorBottom - rowHeight < this.host.scrollTop) this.host.scrollTop = cursorBottom - rowHeight
  }
}

/**
 * Calls `refit` whenever the space for the terminal changes. On phones the
 * on-screen keyboard shrinks only the visual viewport (iOS), so the screen
 * follows `visualViewport` through `--app-height` and `--app-top`.
 */
export function followViewport(store: DisposableStore, refit: () => void, host: HTMLElement): void {
  let frame = 0
  const scheduleFit = () => {
    cancelAnimationFrame(frame)
    frame = requestAnimationFrame(refit)
  }
  store.defer(() => cancelAnimationFrame(frame))

  const rootStyle = document.documentElement.style
  const viewport = window.visualViewport
  const place = () => {
    if (!viewport) return
    rootStyle.setProperty('--app-height', `${viewport.height}px`)
    rootStyle.setProperty('--app-top', `${viewport.offsetTop}px`)
  }
  const follow = () => {
    place()
    scheduleFit()
  }
  place()
  refit()
  store.defer(() => {
    rootStyle.removeProperty('--app-height')
    rootStyle.removeProperty('--app-top')
  })
  store.listen(window, 'resize', follow)
  if (viewport) {
    store.listen(viewport, 'resize', follow)
    // iOS scrolls the visual viewport when the keyboard opens; the screen moves with it.
    store.listen(viewport, 'scroll', follow)
  }

  const observer = new ResizeObserver(scheduleFit)
  observer.observe(host)
  store.defer(() => observer.disconnect())
}
