import '@xterm/xterm/css/xterm.css'
import './style.css'
import { Workbox } from 'workbox-window'
import type { Disposable } from './lifetime.js'
import { mountSessionsScreen } from './sessions-view.js'
import { mountTerminalScreen } from './terminal-view.js'
import { parseRoute, pathOf, type Route } from './route.js'

const app = document.getElementById('app')
if (!app) throw new Error('index.html has no #app element')
const root: HTMLElement = app

/** The screen on display; replaced (and disposed) on every navigation. */
let screen: Disposable | undefined

function show(route: Route, notice?: string): void {
  screen?.dispose()
  screen =
    route.screen === 'terminal'
      ? mountTerminalScreen(root, { session: route.session, window: route.window }, {
          back: () => navigate({ screen: 'sessions' }),
          ended: (message) => navigate({ screen: 'sessions' }, message),
        })
      : mountSessionsScreen(root, { notice, open: (target) => navigate({ screen: 'terminal', ...target }) })
  document.title = route.screen === 'terminal' ? `${route.session}:${route.window} · Handoff` : 'Handoff'
}

function navigate(route: Route, notice?: string): void {
  const path = pathOf(route)
  if (path !== location.pathname) history.pushState(null, '', path)
  show(route, notice)
}

addEventListener('popstate', () => show(parseRoute(location.pathname)))
show(parseRoute(location.pathname))

// Only production builds have a service worker (vite-plugin-pwa builds it
// into dist/web/sw.js); in dev it would cache modules Vite serves live.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  void new Workbox('/sw.js').register()
}
