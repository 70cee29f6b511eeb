import type { DisposableStore } from '../lifetime.js'

/** How far a pull from the top of the list must travel to refresh it. */
const PULL_PX = 70

/**
 * Pull down from the top of the page to refresh, as native lists do; the
 * Refresh button does the same for those who do not know the gesture.
 */
export function pullToRefresh(store: DisposableStore, indicator: HTMLElement, refresh: () => void): void {
  let startY: number | undefined
  let pulled = 0
  const reset = () => {
    startY = undefined
    pulled = 0
    indicator.textContent = ''
    indicator.style.height = ''
  }
  store.listen(document, 'touchstart', (event) => {
    const touch = (event as TouchEvent).touches[0]
    startY = window.scrollY <= 0 && touch && (event as TouchEvent).touches.length === 1 ? touch.clientY : undefined
  })
  store.listen(document, 'touchmove', (event) => {
    const touch = (event as TouchEvent).touches[0]
    if (startY === undefined || !touch) return
    pulled = Math.max(0, touch.clientY - startY)
    indicator.style.height = `${Math.min(pulled, PULL_PX * 1.5) / 2}px`
    indicator.textContent = pulled >= PULL_PX ? 'Release to refresh' : pulled > 10 ? 'Pull to refresh' : ''
  })
  store.listen(document, 'touchend', () => {
    if (pulled >= PULL_PX) refresh()
    reset()
  })
  store.listen(document, 'touchcancel', reset)
}
