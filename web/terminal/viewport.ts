import type { Terminal } from '@xterm/xterm'
import type { DisposableStore } from '../lifetime.js'
import { DESKTOP_SCALE, MIN_LEGIBLE_FONT_PX, type DesktopZoom, type SizePolicy } from './settings.js'

/**
 * Sizes the terminal. xterm always has the pane's own size in cells (the
 * program's output is drawn for it), given by the server's layout frames.
 * "fit": at the phone's font size, scaled down only while the pane is wider
 * than the phone (before the window took the phone's size); `refit` returns
 * the size in cells that would fill the phone, for the server. "desktop": at
 * the desktop font size, scaled as `desktopZoom` says; the host pans on both
 * axes, and follows the cursor until the user pans away.
 */
export class TerminalLayout {
  mode: SizePolicy = 'fit'
  /** The pane's size in cells, from the server; undefined until the first layout. */
  pane: { cols: number; rows: number } | undefined
  desktopZoom: DesktopZoom = 'readable'
  /** Desktop view: the view pans to the cursor as output arrives (off once the user pans away). */
  followCursor = true
  private scale = 1

  constructor(
    private readonly term: Terminal,
    private readonly host: HTMLElement,
    private readonly sizer: HTMLElement,
  ) {}

  /** The screen's scale now (1 is the terminal's own font size). */
  get currentScale(): number {
    return this.scale
  }

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
    this.scale = this.mode === 'fit' ? Math.min(1, fitScale) : this.desktopScale(fitScale)
    element.style.width = `${width}px`
    element.style.height = `${height}px`
    element.style.transform = this.scale === 1 ? '' : `scale(${this.scale})`
    this.sizer.style.width = `${Math.ceil(width * this.scale)}px`
    this.sizer.style.height = `${Math.ceil(height * this.scale)}px`
    this.keepCursorInView()
    const cellWidth = width / this.term.cols
    const cellHeight = height / this.term.rows
    return { cols: Math.max(2, Math.floor(hostWidth / cellWidth)), rows: Math.max(2, Math.floor(hostHeight / cellHeight)) }
  }

  /**
   * Desktop view: scales to `scale`, keeping the point under (clientX,
   * clientY) where it is, as a pinch between two fingers does.
   */
  zoomAt(scale: number, clientX: number, clientY: number): void {
    const rect = this.host.getBoundingClientRect()
    const x = clientX - rect.left
    const y = clientY - rect.top
    const contentX = (this.host.scrollLeft + x) / this.scale
    const contentY = (this.host.scrollTop + y) / this.scale
    this.desktopZoom = clampScale(scale)
    this.followCursor = false
    this.refit()
    this.host.scrollLeft = contentX * this.scale - x
    this.host.scrollTop = contentY * this.scale - y
  }

  /**
   * Pans the host by (dx, dy) CSS px; returns the vertical part it could not
   * take (the view was at its top or bottom edge), for scrolling the terminal.
   */
  pan(dx: number, dy: number): number {
    const { scrollLeft, scrollTop } = this.host
    this.host.scrollLeft += dx
    this.host.scrollTop += dy
    if (this.host.scrollLeft !== scrollLeft || this.host.scrollTop !== scrollTop) this.followCursor = false
    return dy - (this.host.scrollTop - scrollTop)
  }

  /** Pans the host so the cursor's cell is in view (only the rows in fit view, where lines are never wider than the phone). */
  keepCursorInView(): void {
    const buffer = this.term.buffer.active
    // The user is reading older lines: new output does not move them (the live chip brings them back).
    if (buffer.viewportY < buffer.baseY) return
    if (this.mode === 'desktop' && !this.followCursor) return
    const rowHeight = this.sizer.offsetHeight / Math.max(1, this.term.rows)
    const cursorBottom = (buffer.cursorY + 1) * rowHeight
    if (cursorBottom > this.host.scrollTop + this.host.clientHeight) this.host.scrollTop = cursorBottom - this.host.clientHeight
    else if (cursorBottom - rowHeight < this.host.scrollTop) this.host.scrollTop = cursorBottom - rowHeight
    if (this.mode !== 'desktop') return
    const cellWidth = this.sizer.offsetWidth / Math.max(1, this.term.cols)
    const cursorLeft = buffer.cursorX * cellWidth
    // A margin of a few cells, so the text just typed shows beside the cursor.
    const margin = cellWidth * 4
    if (cursorLeft + cellWidth + margin > this.host.scrollLeft + this.host.clientWidth) this.host.scrollLeft = cursorLeft + cellWidth + margin - this.host.clientWidth
    else if (cursorLeft - margin < this.host.scrollLeft) this.host.scrollLeft = Math.max(0, cursorLeft - margin)
  }

  private desktopScale(fitScale: number): number {
    if (this.desktopZoom === 'fit-width') return fitScale
    if (this.desktopZoom === 'readable') return Math.min(1, Math.max(fitScale, MIN_LEGIBLE_FONT_PX / (this.term.options.fontSize ?? 14)))
    return clampScale(this.desktopZoom)
  }
}

export const clampScale = (scale: number): number => Math.min(DESKTOP_SCALE.max, Math.max(DESKTOP_SCALE.min, scale))

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
