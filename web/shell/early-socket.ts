/**
 * A deep link's terminal socket, opened as the app starts rather than once
 * the sign-in check has answered and xterm.js has loaded: the handshake and
 * the server's first screen then travel while the page is still busy. The
 * server's gate decides the upgrade as it decides any other (a phone that
 * is not signed in is refused). Until the terminal takes the socket, what
 * it receives is kept, and handed over in order.
 */

/** What the terminal listens to; an `error` is always followed by a `close`. */
const KEPT_EVENTS = ['open', 'message', 'close'] as const

let early: { url: string; socket: WebSocket; events: Event[]; keep: (event: Event) => void } | undefined

/** Opens the terminal socket for `url` now; `takeEarlySocket` hands it over. */
export function openEarlySocket(url: string): void {
  dropEarlySocket()
  const socket = new WebSocket(url)
  // As the terminal reads its frames; set before any can arrive.
  socket.binaryType = 'arraybuffer'
  const events: Event[] = []
  const keep = (event: Event) => void events.push(event)
  for (const type of KEPT_EVENTS) socket.addEventListener(type, keep)
  early = { url, socket, events, keep }
}

/**
 * The early socket, if it was opened for the same window, size policy and
 * history as `url` (the size in cells may differ: the terminal sends its own
 * once open), else undefined (and a mismatched one is closed). Taken once.
 * The events it already had are dispatched again on the next microtask,
 * after the caller has added its listeners and before any new event.
 */
export function takeEarlySocket(url: string): WebSocket | undefined {
  const taken = early
  if (!taken) return undefined
  early = undefined
  for (const type of KEPT_EVENTS) taken.socket.removeEventListener(type, taken.keep)
  if (withoutSize(taken.url) !== withoutSize(url)) {
    taken.socket.close(1000)
    return undefined
  }
  queueMicrotask(() => {
    for (const event of taken.events) taken.socket.dispatchEvent(event)
  })
  return taken.socket
}

/** Closes an early socket nobody took (the app shows another screen). */
export function dropEarlySocket(): void {
  const dropped = early
  early = undefined
  // 1000: the phone left on purpose, as the terminal says when it detaches.
  dropped?.socket.close(1000)
}

function withoutSize(url: string): string {
  const parsed = new URL(url)
  parsed.searchParams.delete('cols')
  parsed.searchParams.delete('rows')
  return parsed.href
}
