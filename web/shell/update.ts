import type { Workbox } from 'workbox-window'
import { h } from '../dom.js'

/** The message service-worker/sw.ts answers with `skipWaiting()`. */
export const SKIP_WAITING = 'SKIP_WAITING'

/**
 * Shows "Update available" when a new version of the app has installed and
 * waits (the worker never takes over by itself, so a running terminal never
 * changes code underneath). A tap activates it and reloads every tab once
 * the new worker controls them.
 */
export function offerUpdates(wb: Workbox, parent: HTMLElement = document.body): void {
  let banner: HTMLElement | undefined
  let reloading = false

  // Fired in this tab when the waiting worker takes over, whichever tab was tapped.
  wb.addEventListener('controlling', () => {
    if (reloading) return
    reloading = true
    location.reload()
  })

  wb.addEventListener('waiting', () => {
    if (banner) return
    const button = h('button', { type: 'button', class: 'primary', 'data-testid': 'update-reload' }, 'Reload')
    const later = h('button', { type: 'button', class: 'quiet', 'data-testid': 'update-later', 'aria-label': 'Later' }, 'Later')
    banner = h(
      'div',
      { class: 'update-banner', role: 'status', 'data-testid': 'update-banner' },
      h('span', {}, 'Update available'),
      h('span', { class: 'spacer' }),
      later,
      button,
    )
    button.addEventListener('click', () => {
      button.disabled = true
      button.textContent = 'Updating…'
      wb.messageSkipWaiting()
    })
    later.addEventListener('click', () => banner?.remove())
    parent.append(banner)
  })
}
