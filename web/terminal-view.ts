import { FitAddon } from '@xterm/addon-fit'
import { WebglAddon } from '@xterm/addon-webgl'
import { Terminal } from '@xterm/xterm'
import type { Device } from './api.js'
import { readOnlyBadge } from './device-ui.js'
import { h } from './dom.js'
import { bytesOfBinaryString } from './flow.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { clearTabNotifications } from './notifications.js'
import { TermSocket, type ConnectionState, type TerminalTarget } from './term-socket.js'

export interface TerminalScreenOptions {
  /** The user pressed back: leave, detaching from tmux. */
  back(): void
  /** The window ended on the server side; `message` says how. */
  ended(message: string): void
  /** The server took this phone's access away (revoked, access changed). */
  accessEnded(message: string): void
}

/** Shows one tmux window full-viewport until the returned handle is disposed. */
export function mountTerminalScreen(
  parent: HTMLElement,
  target: TerminalTarget,
  device: Device,
  options: TerminalScreenOptions,
): Disposable {
  const store = new DisposableStore()

  const status = h('span', { class: 'status', 'data-testid': 'status', role: 'status' })
  const back = h('button', { type: 'button', class: 'back', 'data-testid': 'back' }, '‹ Sessions')
  const title = h('span', { class: 'terminal-title' }, `${target.session}:${target.window}`)
  const host = h('div', { class: 'terminal-host', 'data-testid': 'terminal' })
  const screen = h('section', { class: 'terminal-screen' }, h('header', { class: 'terminal-bar' }, back, title, readOnlyBadge(device), status), host)
  parent.append(screen)
  store.defer(() => screen.remove())

  const term = store.add(
    new Terminal({
      fontFamily: 'ui-monospace, "SF Mono", Menlo, "DejaVu Sans Mono", "Noto Sans Mono", monospace',
      fontSize: window.matchMedia('(max-width: 600px)').matches ? 12 : 14,
      cursorBlink: true,
      // tmux draws in the alternate screen and keeps the history itself, so
      // a scrollback buffer here would stay empty.
      scrollback: 0,
      theme: { background: '#111111', foreground: '#e6e6e6', cursor: '#e6e6e6' },
      // The server drops a read-only phone's input; not sending it keeps the phone's keyboard honest.
      disableStdin: device.readOnly,
    }),
  )
  const fit = new FitAddon()
  term.loadAddon(fit)
  term.open(host)
  useWebglRenderer(term)
  // Fit before connecting: the socket asks tmux for the size it starts with.
  followViewport(store, () => fitNow(fit), host)

  const showState = (state: ConnectionState) => {
    status.dataset.state = state
    status.textContent = state
  }
  const socket = store.add(
    new TermSocket(target, {
      size: () => ({ cols: term.cols, rows: term.rows }),
      output: (bytes, rendered) => term.write(bytes, rendered),
      reconnected: () => term.reset(),
      state: showState,
      ended: (message) => options.ended(message),
      accessEnded: (message) => options.accessEnded(message),
    }),
  )
  store.add(term.onData((data) => socket.input(data)))
  store.add(term.onBinary((data) => socket.input(bytesOfBinaryString(data))))
  store.add(term.onResize(({ cols, rows }) => socket.resize(cols, rows)))

  store.listen(back, 'click', () => options.back())
  // Opening a tab, or coming back to it, clears the notifications it raised.
  void clearTabNotifications(target)
  store.listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') void clearTabNotifications(target)
  })
  term.focus()
  return store
}

/**
 * Prefers the WebGL renderer; without WebGL2, or once the GPU drops the
 * context, xterm.js falls back to its DOM renderer when the addon is gone.
 */
function useWebglRenderer(term: Terminal): void {
  const webgl = new WebglAddon()
  try {
    term.loadAddon(webgl)
  } catch {
    webgl.dispose()
    return
  }
  webgl.onContextLoss(() => webgl.dispose())
}

function fitNow(fit: FitAddon): void {
  // proposeDimensions is undefined while the host has no size (a hidden tab).
  if (fit.proposeDimensions()) fit.fit()
}

/**
 * Refits whenever the space for the terminal changes. On phones the
 * on-screen keyboard shrinks only the visual viewport (iOS), so the screen's
 * height follows `visualViewport.height` through `--app-height`.
 */
function followViewport(store: DisposableStore, refit: () => void, host: HTMLElement): void {
  let frame = 0
  const scheduleFit = () => {
    cancelAnimationFrame(frame)
    frame = requestAnimationFrame(refit)
  }
  store.defer(() => cancelAnimationFrame(frame))

  const rootStyle = document.documentElement.style
  const viewport = window.visualViewport
  const setHeight = () => {
    if (viewport) rootStyle.setProperty('--app-height', `${viewport.height}px`)
  }
  const followHeight = () => {
    setHeight()
    scheduleFit()
  }
  setHeight()
  refit()
  store.defer(() => rootStyle.removeProperty('--app-height'))
  store.listen(window, 'resize', followHeight)
  if (viewport) store.listen(viewport, 'resize', followHeight)

  const observer = new ResizeObserver(scheduleFit)
  observer.observe(host)
  store.defer(() => observer.disconnect())
}
