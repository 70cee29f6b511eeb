import type { TerminalTarget } from './terminal/socket.js'

/**
 * What the address bar shows: `/` is the sessions list, `/inbox` the recent
 * events, `/t/SESSION/WINDOW` a terminal, `/pair` the pairing page (its
 * secret arrives in the fragment, which the page removes at once; see
 * pair-view.ts).
 */
export type Route = { screen: 'sessions' } | { screen: 'inbox' } | { screen: 'pair' } | ({ screen: 'terminal' } & TerminalTarget)

/** Parses a pathname; anything unrecognised is the sessions list. */
export function parseRoute(pathname: string): Route {
  if (/^\/pair\/?$/.test(pathname)) return { screen: 'pair' }
  if (/^\/inbox\/?$/.test(pathname)) return { screen: 'inbox' }
  const match = /^\/t\/([^/]+)\/(\d{1,9})\/?$/.exec(pathname)
  if (!match) return { screen: 'sessions' }
  let session: string
  try {
    session = decodeURIComponent(match[1]!)
  } catch {
    // A malformed escape (`%E0%A4%A`) cannot name a session.
    return { screen: 'sessions' }
  }
  return { screen: 'terminal', session, window: Number(match[2]) }
}

export function pathOf(route: Route): string {
  if (route.screen === 'pair') return '/pair'
  if (route.screen === 'inbox') return '/inbox'
  return route.screen === 'terminal' ? `/t/${encodeURIComponent(route.session)}/${route.window}` : '/'
}
