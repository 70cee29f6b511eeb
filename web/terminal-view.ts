import { WebLinksAddon } from '@xterm/addon-web-links'
import { WebglAddon } from '@xterm/addon-webgl'
import { Terminal } from '@xterm/xterm'
import type { Device } from './api.js'
import { readOnlyBadge } from './device-ui.js'
import { h } from './dom.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { clearTabNotifications } from './notifications.js'
import { pathOf } from './route.js'
import { AnswerChoices } from './terminal/answers.js'
import { addTerminalGestures } from './terminal/gestures.js'
import { wireCopy, wireInput } from './terminal/input.js'
import { openSafeLink } from './terminal/links.js'
import { TerminalMenu } from './terminal/menu.js'
import { PaneSwitcher } from './terminal/panes.js'
import { safePaste } from './terminal/paste.js'
import { openReader } from './terminal/reader.js'
import { ScreenKeeper } from './terminal/resume.js'
import { clampFontSize, FONT_SIZE, HISTORY_LINES, phonePrefs, policyFor, savePrefs, type SizePolicy, type TerminalPrefs } from './terminal/settings.js'
import { TermSocket, type ConnectionState, type TerminalTarget } from './terminal/socket.js'
import { WindowStrip } from './terminal/strip.js'
import { Toolbar } from './terminal/toolbar.js'
import { followViewport, TerminalLayout } from './terminal/viewport.js'
import './terminal/terminal.css'

export interface TerminalScreenOptions {
  /** The user pressed back: leave, detaching from tmux. */
  back(): void
  /** The window ended on the server side; `message` says how. */
  ended(message: string): void
  /** The server took this phone's access away (revoked, access changed). */
  accessEnded(message: string): void
  /**
   * Opens another window of the session (the window strip). Without it the
   * address bar changes and a `popstate` lets the app show the new route.
   */
  open?(target: TerminalTarget): void
}

/** Scrollback kept beyond the history each pane starts with, for new output. */
const SCROLLBACK_EXTRA_LINES = 1000
/** The last screen is saved for instant resume at most this often while output flows. */
const SAVE_SCREEN_DELAY_MS = 1000

/** The xterm.js terminal the phone shows its pane in. */
function createTerminal(prefs: TerminalPrefs, readOnly: boolean): Terminal {
  const term = new Terminal({
    fontFamily: 'ui-monospace, "SF Mono", Menlo, "DejaVu Sans Mono", "Noto Sans Mono", monospace',
    fontSize: prefs.sizePolicy === 'desktop' || readOnly ? FONT_SIZE.desktop : prefs.fontSize,
    cursorBlink: true,
    // Each pane starts with its history (`historyLines`), then new output adds to it.
    scrollback: prefs.historyLines + SCROLLBACK_EXTRA_LINES,
    theme: { background: '#111111', foreground: '#e6e6e6', cursor: '#e6e6e6' },
    // The server drops a read-only phone's input; not sending it keeps the phone's keyboard honest.
    disableStdin: readOnly,
    // OSC 8 hyperlinks: http(s) only, opened without opener or referrer.
    linkHandler: { activate: (_event, uri) => void openSafeLink(uri), allowNonHttpProtocols: false },
    // No clipboard addon is loaded, so OSC 52 (a program writing the phone's
    // clipboard) does nothing; copying takes the user's tap on Copy.
  })
  term.loadAddon(new WebLinksAddon((_event, uri) => void openSafeLink(uri)))
  return term
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

/** Shows one tmux window full-viewport until the returned handle is disposed. */
export function mountTerminalScreen(parent: HTMLElement, target: TerminalTarget, device: Device, options: TerminalScreenOptions): Disposable {
  const store = new DisposableStore()
  const readOnly = device.readOnly
  const prefs = phonePrefs(device.id)
  // A read-only phone never resizes the desktop's window (the server enforces it too).
  const sizePolicy = (): SizePolicy => policyFor(prefs, readOnly)
  let socket: TermSocket | undefined

  // ---- the screen's parts
  const status = h('span', { class: 'status', 'data-testid': 'status', role: 'status' })
  const stale = h('span', { class: 'badge stale', 'data-testid': 'stale', hidden: true, title: 'The screen as it was when you left; live output replaces it' }, 'saved')
  const back = h('button', { type: 'button', class: 'back', 'data-testid': 'back' }, '‹ Sessions')
  const title = h('span', { class: 'terminal-title' }, `${target.session}:${target.window}`)
  const readerButton = h('button', { type: 'button', class: 'bar-button', 'data-testid': 'reader-open', title: 'Reader: the history as text to read, select and search' }, '¶')
  const sizer = h('div', { class: 'terminal-sizer' })
  const host = h('div', { class: 'terminal-host', 'data-testid': 'terminal' }, sizer)
  const copyButton = h('button', { type: 'button', class: 'copy-chip', 'data-testid': 'copy', hidden: true }, 'Copy')
  const offline = h('div', { class: 'offline-banner', 'data-testid': 'offline-banner', role: 'status', hidden: true }, 'Reconnecting… (keys are not sent)')
  const body = h('div', { class: 'terminal-body' }, host, copyButton, offline)
  const strip = store.add(new WindowStrip(target, (next) => openWindow(next)))
  const panes = store.add(
    new PaneSwitcher({
      focus: (pane, zoom) => socket?.focus(pane, zoom),
      shown: () => term.focus(),
    }),
  )
  const menu = store.add(
    new TerminalMenu(prefs, readOnly, {
      fontStep: (delta) => setFontSize(prefs.fontSize + delta, true),
      policy: (policy) => choosePolicy(policy),
      historyLines: (lines) => {
        prefs.historyLines = lines
        savePrefs(device.id, prefs)
        term.options.scrollback = prefs.historyLines + SCROLLBACK_EXTRA_LINES
        socket?.reconnect()
      },
      paste: () => void navigator.clipboard?.readText().then(paste, () => menu.pasteRefused()),
      reconnect: () => socket?.reconnect(),
      reader: () => showReader(),
      detach: () => options.back(),
    }),
  )
  body.append(panes.overview.element, menu.element)
  const screen = h(
    'section',
    { class: 'terminal-screen', 'data-readonly': readOnly ? '' : undefined },
    h('header', { class: 'terminal-bar' }, back, title, readOnlyBadge(device), stale, status, readerButton, menu.button),
    strip.element,
    panes.bar,
    body,
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  // ---- the terminal
  const term = store.add(createTerminal(prefs, readOnly))
  term.open(sizer)
  useWebglRenderer(term)
  // ---- input: only while the terminal shows the pane as it is now, and the reader does not cover it
  /** Live, and the shown pane synced since the socket (re)opened: keys reach what the phone shows. */
  let current = false
  let reader: Disposable | undefined
  const inputOpen = () => current && reader === undefined
  /** A key typed while it cannot be sent is not lost silently: the banner says so, and the phone buzzes. */
  const refused = () => {
    if (reader) return
    offline.dataset.flash = String(Date.now())
    navigator.vibrate?.(50)
  }
  const send = (data: string | Uint8Array<ArrayBuffer>) => (inputOpen() ? socket?.input(data) : refused())
  const showCurrent = (now: boolean) => {
    current = now
    offline.hidden = now
    if (now) delete host.dataset.offline
    else host.dataset.offline = ''
    toolbar.setPaused(!inputOpen())
    answers.setLive(now)
  }
  // In place before the first fit, so the size the phone asks for is final.
  const toolbar = store.add(new Toolbar({ send: (data) => !readOnly && send(data), appCursor: () => term.modes.applicationCursorKeysMode, disabled: readOnly }))
  screen.append(toolbar.element)
  // An event's choices, as buttons above the toolbar (opened from a notification, or live).
  const answers = store.add(new AnswerChoices(target, readOnly, term))
  toolbar.element.before(answers.element)
  wireInput(store, term, { readOnly, send, takeModifiers: () => toolbar.takeModifiers() })
  wireCopy(store, term, copyButton)
  const paste = safePaste(store, host, readOnly, {
    screen,
    send: (text) => (inputOpen() ? socket?.paste(text) : refused()),
    focus: () => term.focus(),
    isDisposed: () => store.isDisposed,
  })
  store.add(term.onBell(() => navigator.vibrate?.(100)))

  // ---- size: the terminal has the shown pane's size; `fit` asks the window for the phone's
  const layout = new TerminalLayout(term, host, sizer)
  layout.mode = sizePolicy()
  layout.zoom = prefs.fontSize / FONT_SIZE.phone
  /** The phone's size in cells at its font: what `fit` asks the window to take. */
  let wanted = { cols: term.cols, rows: term.rows }
  const refit = () => {
    const proposal = layout.refit()
    if (!proposal || (proposal.cols === wanted.cols && proposal.rows === wanted.rows)) return
    wanted = proposal
    socket?.resize(wanted.cols, wanted.rows)
  }
  const setFontSize = (size: number, persist: boolean) => {
    prefs.fontSize = clampFontSize(size)
    if (sizePolicy() === 'fit') term.options.fontSize = prefs.fontSize
    else layout.zoom = prefs.fontSize / FONT_SIZE.phone
    refit()
    menu.showFontSize(prefs.fontSize)
    if (persist) savePrefs(device.id, prefs)
  }
  const choosePolicy = (policy: SizePolicy) => {
    if (readOnly || prefs.sizePolicy === policy) return
    prefs.sizePolicy = policy
    savePrefs(device.id, prefs)
    menu.showPolicy(policy)
    layout.mode = policy
    term.options.fontSize = policy === 'fit' ? prefs.fontSize : FONT_SIZE.desktop
    layout.zoom = prefs.fontSize / FONT_SIZE.phone
    refit()
    socket?.reconnect()
  }
  addTerminalGestures(store, term, host, {
    start: () => prefs.fontSize,
    change: (size) => {
      if (clampFontSize(size) !== prefs.fontSize) setFontSize(size, false)
    },
    end: () => savePrefs(device.id, prefs),
  })

  // ---- instant resume: the screen as it was, until the live one replaces it
  const keeper = store.add(new ScreenKeeper(term, target))
  let live = false
  const saved = keeper.load()
  if (saved) {
    term.resize(saved.cols, saved.rows)
    term.write(saved.data)
    stale.hidden = false
    host.dataset.stale = ''
  }
  const saveScreen = () => live && keeper.save()
  let saveTimer: Disposable | undefined
  store.defer(saveScreen)
  store.listen(window, 'pagehide', saveScreen)

  // Fit before connecting: the socket tells the server the phone's size.
  followViewport(store, refit, host)

  // ---- the socket
  const showState = (state: ConnectionState) => {
    status.dataset.state = state
    status.textContent = state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : 'offline'
    // Open again only once the shown pane is synced: the screen is current before keys go out.
    if (state !== 'live') showCurrent(false)
    else void strip.load()
  }
  socket = store.add(
    new TermSocket(
      target,
      {
        size: () => wanted,
        historyLines: () => prefs.historyLines,
        layout: (next) => {
          title.textContent = `${next.session}:${next.window.index} ${next.window.name}`
          const pane = panes.apply(next)
          if (pane) layout.pane = { cols: pane.cols, rows: pane.rows }
          refit()
        },
        sync: (pane, kind) => {
          if (!panes.synced(pane) || kind !== 'full') return
          if (!current) showCurrent(true)
          if (live) return
          live = true
          stale.hidden = true
          delete host.dataset.stale
        },
        output: (pane, bytes, rendered) => {
          if (!panes.isShown(pane)) return panes.several ? panes.overview.write(pane, bytes, rendered) : rendered()
          if (panes.several) panes.overview.write(pane, bytes, () => {})
          term.write(bytes, () => {
            rendered()
            layout.keepCursorInView()
          })
          saveTimer ??= store.timeout(() => {
            saveTimer = undefined
            saveScreen()
          }, SAVE_SCREEN_DELAY_MS)
        },
        state: showState,
        ended: (message) => options.ended(message),
        accessEnded: (message) => options.accessEnded(message),
      },
      { sizePolicy },
    ),
  )

  // ---- reader mode: over the live terminal, which keeps running underneath (and takes no keys meanwhile)
  const closeReader = () => {
    reader?.dispose()
    reader = undefined
    toolbar.setPaused(!inputOpen())
    term.focus()
  }
  const showReader = () => {
    menu.close()
    reader?.dispose()
    reader = openReader(body, target, Math.max(prefs.historyLines, HISTORY_LINES.default), closeReader)
    toolbar.setPaused(true)
  }
  store.defer(() => reader?.dispose())
  store.listen(readerButton, 'click', () => (reader ? closeReader() : showReader()))

  // ---- navigation
  const openWindow = (next: TerminalTarget) => {
    if (options.open) return options.open(next)
    history.pushState(null, '', pathOf({ screen: 'terminal', ...next }))
    dispatchEvent(new PopStateEvent('popstate'))
  }
  void strip.load()
  store.listen(back, 'click', () => options.back())
  // The screen may be scaled smaller than the host: a tap anywhere on it is a tap on the terminal.
  store.listen(host, 'click', (event) => {
    if (event.target === host || event.target === sizer) term.focus()
  })
  // Opening a tab, or coming back to it, clears the notifications it raised.
  void clearTabNotifications(target)
  store.listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') void clearTabNotifications(target)
    else saveScreen()
  })
  term.focus()
  return store
}
