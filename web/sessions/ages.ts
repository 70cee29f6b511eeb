import type { DisposableStore } from '../lifetime.js'

/** How often "4 min ago" labels are redrawn: they age with no change in tmux or new event to send. */
const AGES_REPAINT_MS = 30_000

/** Calls `repaint` every AGES_REPAINT_MS while the page is visible, until `store` is disposed. */
export function repaintAges(store: DisposableStore, repaint: () => void): void {
  store.timeout(() => {
    if (document.visibilityState === 'visible') repaint()
    repaintAges(store, repaint)
  }, AGES_REPAINT_MS)
}
