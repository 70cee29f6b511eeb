import { WebLinksAddon } from '@xterm/addon-web-links'
import { WebglAddon } from '@xterm/addon-webgl'
import { Terminal } from '@xterm/xterm'
import { listWindows, type Device, type TmuxWindow } from './api.js'
import { readOnlyBadge } from './device-ui.js'
import { h } from './dom.js'
import { bytesOfBinaryString } from './flow.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { onSessions } from './events.js'
import { clearTabNotifications } from './notifications.js'
import { pathOf } from './route.js'
import { TermSocket, type ConnectionState, type TerminalTarget, type WindowLayout } from './term-socket.js'
import { addTerminalGestures } from './terminal/gestures.js'
import { applyModifiers, NO_MODIFIERS } from './terminal/keys.js'
import { openSafeLink } from './terminal/links.js'
import { confirmPaste, pasteNeedsConfirmation } from './terminal/paste.js'
import { PaneOverview } from './terminal/panes.js'
import { openReader } from './terminal/reader.js'
import { ScreenKeeper } from './terminal/resume.js'
import { clampFontSize, defaultPrefs, FONT_SIZE, HISTORY_LINES, loadPrefs, savePrefs, type SizePolicy } from './terminal/settings.js'
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

/** Shows one tmux window full-viewport until the returned handle is disposed. */
export function mountTerminalScreen(
  parent: HTMLElement,
  target: TerminalTarget,
  device: Device,
  options: TerminalScreenOptions,
): Disposable {
  const store = new DisposableStore()
  const readOnly = device.readOnly
  const prefs = loadPrefs(device.id, defaultPrefs(window.matchMedia('(max-width: 600px)').matches))
  // A read-only phone never resizes the desktop's window (the server enforces it too).
  const sizePolicy = (): SizePolicy => (readOnly ? 'desktop' : prefs.sizePolicy)

  const status = h('span', { class: 'status', 'data-testid': 'status', role: 'status' })
  const stale = h('span', { class: 'badge stale', 'data-testid': 'stale', hidden: true, title: 'The screen as it was when you left; live output replaces it' }, 'saved')
  const back = h('button', { type: 'button', class: 'back', 'data-testid': 'back' }, '‹ Sessions')
  const title = h('span', { class: 'terminal-title' }, `${target.session}:${target.window}`)
  const readerButton = h('button', { type: 'button', class: 'bar-button', 'data-testid': 'reader-open', title: 'Reader: the history as text to read, select and search' }, '¶')
  const menuButton = h('button', { type: 'button', class: 'bar-button', 'data-testid': 'menu-open', 'aria-haspopup': 'true', 'aria-expanded': 'false', title: 'Terminal menu' }, '⋯')
  const strip = h('nav', { class: 'window-strip', 'data-testid': 'window-strip', 'aria-label': 'Windows of this session' })
  const sizer = h('div', { class: 'terminal-sizer' })
  const host = h('div', { class: 'terminal-host', 'data-testid': 'terminal' }, sizer)
  const copyButton = h('button', { type: 'button', class: 'copy-chip', 'data-testid': 'copy', hidden: true }, 'Copy')
  const body = h('div', { class: 'terminal-body' }, host, copyButton)
  const screen = h(
    'section',
    { class: 'terminal-screen', 'data-readonly': readOnly ? '' : undefined },
    h('header', { class: 'terminal-bar' }, back, title, readOnlyBadge(device), stale, status, readerButton, menuButton),
    strip,
    body,
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  const term = store.add(
    new Terminal({
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
    }),
  )
  term.loadAddon(new WebLinksAddon((_event, uri) => void openSafeLink(uri)))
  term.open(sizer)
  useWebglRenderer(term)

  // In place before the first fit, so the size the phone asks for is final.
  const toolbar = store.add(
    new Toolbar({
      send: (data) => {
        if (!readOnly) socket?.input(data)
      },
      appCursor: () => term.modes.applicationCursorKeysMode,
      disabled: readOnly,
    }),
  )
  screen.append(toolbar.element)

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

  // Instant resume: the screen as it was, until the live one replaces it.
  const keeper = new ScreenKeeper(term, target)
  store.add(keeper)
  let live = false
  const saved = keeper.load()
  if (saved) {
    term.resize(saved.cols, saved.rows)
    term.write(saved.data)
    stale.hidden = false
    host.dataset.stale = ''
  }
  const saveScreen = () => {
    if (live) keeper.save()
  }
  let saveTimer: Disposable | undefined
  store.defer(saveScreen)
  store.listen(window, 'pagehide', saveScreen)

  // Fit before connecting: the socket tells the server the phone's size.
  let socket: TermSocket | undefined
  followViewport(store, refit, host)

  // Panes: the terminal shows one (the window's active pane until the user picks); the overview shows all.
  let windowLayout: WindowLayout | undefined
  /** The pane the terminal shows and keys go to. */
  let shown: number | undefined
  /** The shown pane's output is held back until its sync: it was drawn for another pane. */
  let awaitingSync = true
  const overview = store.add(new PaneOverview((pane) => showPane(pane)))
  body.append(overview.element)
  const paneBar = h('div', { class: 'pane-bar', 'data-testid': 'pane-bar', hidden: true })
  strip.after(paneBar)

  const showPane = (pane: number) => {
    overview.hide()
    if (pane !== shown) {
      shown = pane
      awaitingSync = true
    }
    socket?.focus(pane, (windowLayout?.panes.length ?? 1) > 1)
    renderPaneBar()
    term.focus()
  }
  const renderPaneBar = () => {
    const panes = windowLayout?.panes ?? []
    paneBar.hidden = panes.length < 2
    if (panes.length < 2) return
    const all = h('button', { type: 'button', class: 'pane-chip', 'data-testid': 'pane-all', 'aria-pressed': String(overview.visible) }, '▦ all')
    all.addEventListener('click', () => (overview.visible ? overview.hide() : overview.show(shown), renderPaneBar()))
    paneBar.replaceChildren(
      all,
      ...panes.map((p, i) => {
        const chip = h('button', { type: 'button', class: 'pane-chip', 'data-testid': `pane-${p.id}`, 'aria-pressed': String(p.id === shown && !overview.visible) }, `${i + 1}${p.active ? ' •' : ''}`)
        chip.addEventListener('click', () => showPane(p.id))
        return chip
      }),
    )
  }
  const applyLayout = (next: WindowLayout) => {
    windowLayout = next
    title.textContent = `${next.session}:${next.window.index} ${next.window.name}`
    overview.update(next)
    if (shown === undefined || !next.panes.some((p) => p.id === shown)) {
      shown = (next.panes.find((p) => p.active) ?? next.panes[0])?.id
      awaitingSync = true
      if (shown !== undefined && next.panes.length > 1) socket?.focus(shown, true)
    }
    const pane = next.panes.find((p) => p.id === shown)
    if (pane) layout.pane = { cols: pane.cols, rows: pane.rows }
    renderPaneBar()
    refit()
  }

  const showState = (state: ConnectionState) => {
    status.dataset.state = state
    status.textContent = state
    if (state === 'live') void loadWindows()
  }
  socket = store.add(
    new TermSocket(
      target,
      {
        size: () => wanted,
        historyLines: () => prefs.historyLines,
        layout: applyLayout,
        sync: (pane, kind) => {
          if (pane !== shown) return
          awaitingSync = false
          if (kind === 'full' && !live) {
            live = true
            stale.hidden = true
            delete host.dataset.stale
          }
        },
        output: (pane, bytes, rendered) => {
          const forTerm = pane === shown && !awaitingSync
          const multi = (windowLayout?.panes.length ?? 1) > 1
          if (!forTerm) return multi ? overview.write(pane, bytes, rendered) : rendered()
          if (multi) overview.write(pane, bytes, () => {})
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

  // Everything xterm emits is input, terminal query replies (DA, DSR) included:
  // a read-only phone sends none of it.
  store.add(
    term.onData((data) => {
      if (readOnly) return
      // Sticky modifiers apply to typed keys, not to escape sequences.
      const mods = data.startsWith('\x1b') ? NO_MODIFIERS : toolbar.takeModifiers()
      socket?.input(applyModifiers(data, mods))
    }),
  )
  store.add(
    term.onBinary((data) => {
      if (!readOnly) socket?.input(bytesOfBinaryString(data))
    }),
  )
  store.add(term.onBell(() => navigator.vibrate?.(100)))
  term.attachCustomKeyEventHandler((event) => {
    // Shift+Enter is a line feed (a newline without submitting, in Claude Code).
    if (event.key === 'Enter' && event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (event.type === 'keydown' && !readOnly) socket?.input('\n')
      event.preventDefault()
      return false
    }
    return true
  })

  // Safe paste: anything with a line break is previewed and sent only when confirmed.
  const paste = (text: string) => {
    if (readOnly || !text) return
    const send = () => {
      // Through tmux, which brackets it when the program asked for bracketed paste.
      socket?.paste(text)
      term.focus()
    }
    if (!pasteNeedsConfirmation(text)) return send()
    void confirmPaste(screen, text).then((ok) => {
      if (ok && !store.isDisposed) send()
    })
  }
  const onPasteEvent = (event: Event) => {
    const text = (event as ClipboardEvent).clipboardData?.getData('text/plain') ?? ''
    // Before xterm's own listener on its textarea sees it: every paste goes to tmux as a paste.
    event.preventDefault()
    event.stopImmediatePropagation()
    paste(text)
  }
  host.addEventListener('paste', onPasteEvent, true)
  store.defer(() => host.removeEventListener('paste', onPasteEvent, true))

  // Copy takes a tap: selections come from a long-press (or a mouse drag).
  store.add(term.onSelectionChange(() => (copyButton.hidden = !term.hasSelection())))
  store.listen(copyButton, 'click', () => {
    const text = term.getSelection()
    void navigator.clipboard?.writeText(text).then(
      () => term.clearSelection(),
      () => (copyButton.textContent = 'Copy failed'),
    )
  })

  const setFontSize = (size: number, persist: boolean) => {
    prefs.fontSize = clampFontSize(size)
    if (sizePolicy() === 'fit') term.options.fontSize = prefs.fontSize
    else layout.zoom = prefs.fontSize / FONT_SIZE.phone
    refit()
    fontLabel.textContent = `${prefs.fontSize}px`
    if (persist) savePrefs(device.id, prefs)
  }
  addTerminalGestures(store, term, host, {
    start: () => prefs.fontSize,
    change: (size) => {
      if (clampFontSize(size) !== prefs.fontSize) setFontSize(size, false)
    },
    end: () => savePrefs(device.id, prefs),
  })

  // Reader mode: over the live terminal, which keeps running underneath.
  let reader: Disposable | undefined
  const closeReader = () => {
    reader?.dispose()
    reader = undefined
    term.focus()
  }
  const showReader = () => {
    closeMenu()
    reader?.dispose()
    reader = openReader(body, target, Math.max(prefs.historyLines, HISTORY_LINES.default), closeReader)
  }
  store.defer(() => reader?.dispose())
  store.listen(readerButton, 'click', () => (reader ? closeReader() : showReader()))

  // The terminal menu.
  const fontLabel = h('span', { class: 'font-size', 'data-testid': 'font-size' }, `${prefs.fontSize}px`)
  const fontDown = h('button', { type: 'button', 'data-testid': 'font-down', 'aria-label': 'Smaller text' }, 'A−')
  const fontUp = h('button', { type: 'button', 'data-testid': 'font-up', 'aria-label': 'Larger text' }, 'A+')
  const sizeFit = h('button', { type: 'button', 'data-testid': 'size-fit', disabled: readOnly }, 'Fit this phone')
  const sizeDesktop = h('button', { type: 'button', 'data-testid': 'size-desktop', disabled: readOnly }, 'Desktop size')
  const historySelect = h('select', { 'data-testid': 'history-lines', 'aria-label': 'History lines' })
  for (const lines of new Set([...HISTORY_LINES.choices, prefs.historyLines].sort((a, b) => a - b))) {
    historySelect.append(h('option', { value: lines, selected: lines === prefs.historyLines }, lines === 0 ? 'none' : String(lines)))
  }
  const pasteButton = h('button', { type: 'button', 'data-testid': 'paste', disabled: readOnly }, 'Paste')
  const reconnectButton = h('button', { type: 'button', 'data-testid': 'reconnect' }, 'Reconnect')
  const readerItem = h('button', { type: 'button', 'data-testid': 'menu-reader' }, 'Reader')
  const detachButton = h('button', { type: 'button', 'data-testid': 'detach' }, 'Detach')
  const menu = h(
    'div',
    { class: 'terminal-menu', 'data-testid': 'menu', hidden: true, role: 'dialog', 'aria-label': 'Terminal menu' },
    h('div', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'Text'), fontDown, fontLabel, fontUp),
    h('div', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'Size'), sizeFit, sizeDesktop),
    readOnly ? h('p', { class: 'muted menu-note' }, 'A read-only phone always watches at desktop size.') : '',
    h('label', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'History'), historySelect, h('span', { class: 'muted' }, 'lines')),
    h('div', { class: 'menu-row' }, pasteButton, reconnectButton, readerItem, detachButton),
  )
  body.append(menu)
  const showSizePolicy = () => {
    sizeFit.setAttribute('aria-pressed', String(sizePolicy() === 'fit'))
    sizeDesktop.setAttribute('aria-pressed', String(sizePolicy() === 'desktop'))
  }
  showSizePolicy()
  const closeMenu = () => {
    menu.hidden = true
    menuButton.setAttribute('aria-expanded', 'false')
  }
  store.listen(menuButton, 'click', () => {
    menu.hidden = !menu.hidden
    menuButton.setAttribute('aria-expanded', String(!menu.hidden))
  })
  store.listen(fontDown, 'click', () => setFontSize(prefs.fontSize - 1, true))
  store.listen(fontUp, 'click', () => setFontSize(prefs.fontSize + 1, true))
  const choosePolicy = (policy: SizePolicy) => {
    if (readOnly || prefs.sizePolicy === policy) return
    prefs.sizePolicy = policy
    savePrefs(device.id, prefs)
    showSizePolicy()
    layout.mode = policy
    term.options.fontSize = policy === 'fit' ? prefs.fontSize : FONT_SIZE.desktop
    layout.zoom = prefs.fontSize / FONT_SIZE.phone
    refit()
    socket?.reconnect()
  }
  store.listen(sizeFit, 'click', () => choosePolicy('fit'))
  store.listen(sizeDesktop, 'click', () => choosePolicy('desktop'))
  store.listen(historySelect, 'change', () => {
    prefs.historyLines = Number(historySelect.value)
    savePrefs(device.id, prefs)
    term.options.scrollback = prefs.historyLines + SCROLLBACK_EXTRA_LINES
    socket?.reconnect()
  })
  store.listen(pasteButton, 'click', () => {
    closeMenu()
    navigator.clipboard?.readText().then(paste, () => {
      pasteButton.textContent = 'Paste (not allowed)'
    })
  })
  store.listen(reconnectButton, 'click', () => {
    closeMenu()
    socket?.reconnect()
  })
  store.listen(readerItem, 'click', showReader)
  store.listen(detachButton, 'click', () => options.back())

  // The strip of the session's windows: fetched once, then live from the event stream.
  let windowsLoading = false
  async function loadWindows(): Promise<void> {
    if (windowsLoading) return
    windowsLoading = true
    try {
      renderStrip(await listWindows(target.session))
    } catch {
      // The terminal works without its strip; the stream or the next connect fills it.
    } finally {
      windowsLoading = false
    }
  }
  const renderStrip = (windows: readonly TmuxWindow[]) => {
    if (store.isDisposed) return
    strip.replaceChildren(
      ...windows.map((w) => {
        const here = w.index === target.window
        const button = h(
          'button',
          { type: 'button', class: 'strip-window', 'data-testid': `strip-window-${w.index}`, 'aria-current': here ? 'page' : undefined },
          `${w.index}:${w.name}`,
        )
        if (!here) button.addEventListener('click', () => openWindow({ session: target.session, window: w.index }))
        return button
      }),
    )
  }
  store.add(
    onSessions((event) => {
      const session = event.sessions.find((s) => s.name === target.session)
      if (session) renderStrip(session.windowList)
    }),
  )
  const openWindow = (next: TerminalTarget) => {
    if (options.open) return options.open(next)
    history.pushState(null, '', pathOf({ screen: 'terminal', ...next }))
    dispatchEvent(new PopStateEvent('popstate'))
  }
  void loadWindows()

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
