import { WebLinksAddon } from '@xterm/addon-web-links'
import { WebglAddon } from '@xterm/addon-webgl'
import { Terminal } from '@xterm/xterm'
import type { Device } from './api.js'
import { h } from './dom.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { clearTabNotifications } from './notifications.js'
import { pathOf } from './route.js'
import { AnswerChoices } from './terminal/answers.js'
import { addTerminalGestures } from './terminal/gestures.js'
import { ScreenChrome } from './terminal/chrome.js'
import { TerminalHeader } from './terminal/header.js'
import { InputGate, wireInput } from './terminal/input.js'
import { openSafeLink } from './terminal/links.js'
import { TerminalMenu } from './terminal/menu.js'
import { PaneSwitcher } from './terminal/panes.js'
import { safePaste } from './terminal/paste.js'
import { openReader } from './terminal/reader.js'
import { ScreenKeeper } from './terminal/resume.js'
import { FONT_SIZE, HISTORY_LINES, phonePrefs, savePrefs, type TerminalPrefs } from './terminal/settings.js'
import { TerminalScroller } from './terminal/scroll.js'
import { TouchSelection } from './terminal/selection.js'
import { TerminalSizing } from './terminal/sizing.js'
import { TermSocket, type ConnectionState, type TerminalTarget } from './terminal/socket.js'
import { WindowStrip } from './terminal/strip.js'
import { Toolbar } from './terminal/toolbar.js'
import { followViewport } from './terminal/viewport.js'
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
  const save = () => savePrefs(device.id, prefs)
  let socket: TermSocket | undefined

  // ---- the screen's parts
  const sizer = h('div', { class: 'terminal-sizer' })
  const host = h('div', { class: 'terminal-host', 'data-testid': 'terminal' }, sizer)
  const body = h('div', { class: 'terminal-body' }, host)
  const strip = store.add(new WindowStrip(target, (next) => openWindow(next)))
  const panes = store.add(
    new PaneSwitcher({
      focus: (pane, zoom) => socket?.focus(pane, zoom),
      shown: () => term.focus(),
    }),
  )
  const menu = store.add(
    new TerminalMenu(prefs, readOnly, {
      fontStep: (delta) => sizing.step(delta),
      policy: (policy) => sizing.choosePolicy(policy),
      historyLines: (lines) => {
        prefs.historyLines = lines
        save()
        term.options.scrollback = prefs.historyLines + SCROLLBACK_EXTRA_LINES
        socket?.reconnect()
      },
      paste: () => void navigator.clipboard?.readText().then(paste, () => menu.pasteRefused()),
      reconnect: () => socket?.reconnect(),
      reader: () => showReader(),
      selectScreen: () => selection.selectScreen(),
      copyLastOutput: async () => {
        if (!selection.selectLastOutput()) return false
        await selection.copy()
        return true
      },
      fullScreen: () => {
        chrome.setFullScreen(!chrome.isFullScreen)
        menu.showFullScreen(chrome.isFullScreen)
      },
      detach: () => options.back(),
    }),
  )
  const header = new TerminalHeader(target, device, menu.button)
  const screen = h('section', { class: 'terminal-screen', 'data-readonly': readOnly ? '' : undefined })
  const chrome = store.add(new ScreenChrome(screen, () => sizing.refit()))
  chrome.bars.append(header.element, strip.element, panes.bar)
  body.append(panes.overview.element, menu.element, chrome.tab)
  screen.append(chrome.bars, body)
  parent.append(screen)
  store.defer(() => screen.remove())

  // ---- the terminal
  const term = store.add(createTerminal(prefs, readOnly))
  term.open(sizer)
  useWebglRenderer(term)
  const scroller = store.add(
    new TerminalScroller(term, {
      maxHistoryLines: HISTORY_LINES.max,
      loadOlder: (lines) => {
        const pane = panes.shown
        if (pane === undefined) return
        term.options.scrollback = lines + SCROLLBACK_EXTRA_LINES
        socket?.history(pane, lines)
      },
    }),
  )
  const selection = store.add(new TouchSelection(term, body, host))
  body.append(scroller.liveChip, scroller.historyNote, ...selection.elements)

  // ---- input: only while the terminal shows the pane as it is now, and the reader does not cover it
  const gate = new InputGate(host, (open, current) => {
    if (current) header.showState('live')
    toolbar.setPaused(!open)
    answers.setLive(current)
  })
  body.append(gate.banner)
  const send = (data: string | Uint8Array<ArrayBuffer>) =>
    gate.pass(() => {
      // Typing answers what is live: a view scrolled back returns to it.
      scroller.toLive()
      socket?.input(data)
    })
  // In place before the first fit, so the size the phone asks for is final.
  const toolbar = store.add(new Toolbar({ send: (data) => !readOnly && send(data), appCursor: () => term.modes.applicationCursorKeysMode, disabled: readOnly }))
  screen.append(toolbar.element)
  // An event's choices, as buttons above the toolbar (opened from a notification, or live).
  const answers = store.add(new AnswerChoices(target, readOnly, term))
  toolbar.element.before(answers.element)
  wireInput(store, term, { readOnly, send, takeModifiers: () => toolbar.takeModifiers() })
  const paste = safePaste(store, host, readOnly, {
    screen,
    send: (text) => gate.pass(() => socket?.paste(text)),
    focus: () => term.focus(),
    isDisposed: () => store.isDisposed,
  })
  store.add(term.onBell(() => navigator.vibrate?.(100)))

  // ---- size: the terminal has the shown pane's size; `fit` asks the window for the phone's
  const sizing = store.add(
    new TerminalSizing(term, host, sizer, {
      prefs,
      readOnly,
      save,
      resized: (cols, rows) => socket?.resize(cols, rows),
      policyChanged: (policy) => {
        menu.showPolicy(policy)
        socket?.reconnect()
      },
      showSize: (label) => menu.showFontSize(label),
    }),
  )
  body.append(sizing.viewControls)
  addTerminalGestures(store, host, {
    touch: (x, y) => scroller.hold(x, y),
    press: (x, y) => selection.press(x, y),
    pressMove: (x, y) => selection.pressMove(x, y),
    // Content follows the finger: a view larger than the phone pans first, then the terminal scrolls.
    drag: (dx, dy) => scroller.drag(sizing.pan(dx, dy)),
    release: (_vx, vy) => scroller.release(vy),
    pinch: sizing.pinch,
  })

  // ---- instant resume: the screen as it was, until the live one replaces it
  const keeper = store.add(new ScreenKeeper(term, target))
  let live = false
  const saved = keeper.load()
  if (saved) {
    term.resize(saved.cols, saved.rows)
    term.write(saved.data)
    header.showSaved(true)
    host.dataset.stale = ''
  }
  const saveScreen = () => live && keeper.save()
  let saveTimer: Disposable | undefined
  store.defer(saveScreen)
  store.listen(window, 'pagehide', saveScreen)

  // Fit before connecting: the socket tells the server the phone's size.
  followViewport(
    store,
    () => {
      chrome.update()
      sizing.refit()
    },
    host,
  )

  // ---- the socket
  const showState = (state: ConnectionState) => {
    // Open again only once the shown pane is synced: the screen is current before keys go out.
    if (state === 'live') return void strip.load()
    header.showState(state)
    gate.setCurrent(false)
  }
  socket = store.add(
    new TermSocket(
      target,
      {
        size: () => sizing.wanted,
        // A new socket starts with as much history as the user already scrolled back to.
        historyLines: () => Math.max(prefs.historyLines, scroller.historyLines),
        layout: (next) => {
          header.showWindow(next)
          const pane = panes.apply(next)
          if (pane) sizing.setPane(pane.cols, pane.rows)
          else sizing.refit()
        },
        sync: (pane, kind, history) => {
          if (!panes.synced(pane) || kind !== 'full') return
          scroller.fullSync(history)
          if (!gate.isCurrent) gate.setCurrent(true)
          if (live) return
          live = true
          delete host.dataset.stale
        },
        output: (pane, bytes, rendered) => {
          if (!panes.isShown(pane)) return panes.several ? panes.overview.write(pane, bytes, rendered) : rendered()
          if (panes.several) panes.overview.write(pane, bytes, () => {})
          term.write(bytes, () => {
            rendered()
            scroller.written()
            sizing.layout.keepCursorInView()
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
      { sizePolicy: () => sizing.policy },
    ),
  )

  // ---- reader mode: over the live terminal, which keeps running underneath (and takes no keys meanwhile)
  let reader: Disposable | undefined
  const closeReader = () => {
    reader?.dispose()
    reader = undefined
    gate.setCovered(false)
    term.focus()
  }
  const showReader = () => {
    menu.close()
    reader?.dispose()
    reader = openReader(body, target, Math.max(prefs.historyLines, HISTORY_LINES.default), closeReader)
    gate.setCovered(true)
  }
  store.defer(() => reader?.dispose())
  store.listen(header.readerButton, 'click', () => (reader ? closeReader() : showReader()))

  // ---- navigation
  const openWindow = (next: TerminalTarget) => {
    if (options.open) return options.open(next)
    history.pushState(null, '', pathOf({ screen: 'terminal', ...next }))
    dispatchEvent(new PopStateEvent('popstate'))
  }
  void strip.load()
  store.listen(header.back, 'click', () => options.back())
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
