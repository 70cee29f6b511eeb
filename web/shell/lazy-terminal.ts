import type { Device } from '../api.js'
import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { phonePrefs } from '../terminal/settings.js'
import type { TerminalTarget } from '../terminal/socket.js'
import type { TerminalScreenOptions } from '../terminal-view.js'
import { savedScreenPreview } from './saved-preview.js'

type TerminalChunk = typeof import('./terminal-chunk.js')
let chunk: Promise<TerminalChunk> | undefined

/**
 * Starts loading the terminal chunk now (a deep link: in parallel with the
 * sign-in check, rather than after it). A failed load is forgotten, so the
 * next call tries again.
 */
export function preloadTerminal(): Promise<TerminalChunk> {
  chunk ??= import('./terminal-chunk.js').catch((error: unknown) => {
    chunk = undefined
    throw error
  })
  return chunk
}

/**
 * Mounts the terminal screen from its own chunk (xterm.js and its addons,
 * about three times the rest of the app), so the sessions list loads
 * without it. The service worker precaches the chunk, so after the first
 * visit this costs a local read, offline too.
 */
export function mountTerminalLazily(
  parent: HTMLElement,
  target: TerminalTarget,
  device: Device,
  options: TerminalScreenOptions,
): Disposable {
  const store = new DisposableStore()
  const status = h('span', { class: 'status', 'data-testid': 'status', 'data-state': 'loading', role: 'status' }, 'loading')
  const back = h('button', { type: 'button', class: 'back', 'data-testid': 'back' }, '‹ Sessions')
  const placeholder = h(
    'section',
    { class: 'terminal-screen' },
    h('header', { class: 'terminal-bar' }, back, h('span', { class: 'terminal-title' }, `${target.session}:${target.window}`), status),
    // The tab's saved screen at once; the terminal paints it again, then the live one.
    h('div', { class: 'terminal-host' }, savedScreenPreview(target, phonePrefs(device.id).fontSize) ?? ''),
  )
  parent.append(placeholder)
  store.defer(() => placeholder.remove())
  store.listen(back, 'click', () => options.back())

  const load = () => {
    status.dataset.state = 'loading'
    status.textContent = 'loading'
    preloadTerminal().then(
      ({ mountTerminalScreen }) => {
        if (store.isDisposed) return
        placeholder.remove()
        store.add(mountTerminalScreen(parent, target, device, options))
      },
      (error: unknown) => {
        if (store.isDisposed) return
        // Only without the service worker's copy and without a network.
        status.dataset.state = 'offline'
        status.textContent = 'offline'
        const retry = h('button', { type: 'button', class: 'quiet', 'data-testid': 'terminal-load-retry' }, 'Try again')
        const note = h('p', { class: 'error', role: 'alert' }, `Could not load the terminal: ${error instanceof Error ? error.message : String(error)} `, retry)
        placeholder.lastElementChild?.replaceChildren(note)
        retry.addEventListener('click', load, { once: true })
      },
    )
  }
  load()
  return store
}
