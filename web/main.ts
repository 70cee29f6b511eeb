import './style.css'
import { Workbox } from 'workbox-window'
import { ApiError, me, onAccessLost, signOut, type Device } from './api.js'
import { mountExpiredScreen, mountProblemScreen, mountSignInScreen } from './auth-view.js'
import { stopUnseenEvents, unseenEventsFor } from './events.js'
import type { Disposable } from './lifetime.js'
import { mountPairScreen, takePairingSecret } from './pair-view.js'
import { mountInboxScreen } from './sessions/inbox.js'
import { mountSessionsScreen } from './sessions-view.js'
import { dropEarlySocket, openEarlySocket } from './shell/early-socket.js'
import { mountTerminalLazily, preloadTerminal } from './shell/lazy-terminal.js'
import { installResumeLock } from './shell/lock.js'
import { forgetLastKnown, isUnreachable, mountOfflineScreen } from './shell/offline.js'
import { forgetDevice, rememberDevice, rememberedDevice, sameDevice } from './shell/remembered-device.js'
import { offerUpdates } from './shell/update.js'
import { parseRoute, pathOf, type Route } from './route.js'
import { forgetSavedScreens } from './terminal/saved-screens.js'
import { phonePrefs, policyFor } from './terminal/settings.js'
import { socketUrl, type TerminalTarget } from './terminal/socket.js'

const app = document.getElementById('app')
if (!app) throw new Error('index.html has no #app element')
const root: HTMLElement = app

type ScreenKind = 'app' | 'pair' | 'signin' | 'expired' | 'problem' | 'offline'

/** The screen on display; replaced (and disposed) on every navigation. */
let screen: Disposable | undefined
let showing: ScreenKind | undefined
/** The signed-in phone, as /api/me last described it; undefined while signed out. */
let device: Device | undefined
/** Bumped per access check, so a slow /api/me answer cannot replace a newer screen. */
let checks = 0
/** The remembered phone a deep link's terminal was shown for before /api/me answered (openDeepLink). */
let shownBeforeCheck: Device | undefined

/** Size in cells a deep link's early socket asks with: no fit has run yet; the terminal sends the real one once open. */
const EARLY_SOCKET_SIZE = { cols: 80, rows: 24 }

function replace(kind: ScreenKind, mount: () => Disposable, title = 'Handoff'): void {
  // Sign-in, pairing, "Can't reach"…: no terminal will take a deep link's early socket.
  if (kind !== 'app') dropEarlySocket()
  screen?.dispose()
  showing = kind
  screen = mount()
  document.title = title
}

/** Shows `route` for the signed-in `device`. */
function show(route: Route, notice?: string): void {
  if (route.screen === 'pair') return showPair()
  if (!device) return void checkAccess(notice)
  if (route.screen !== 'terminal') dropEarlySocket()
  const current = device
  // Unseen-event badges: one stream while the app is open; what is looked at counts as seen.
  const unseen = unseenEventsFor(current)
  if (route.screen === 'terminal') {
    unseen.viewing({ session: route.session, window: route.window })
    replace(
      'app',
      () =>
        // xterm.js loads only now, from its own chunk: the sessions list stays small.
        mountTerminalLazily(root, { session: route.session, window: route.window }, current, {
          back: () => navigate({ screen: 'sessions' }),
          // The window strip: another window of the session, as a new history entry.
          open: (target) => navigate({ screen: 'terminal', ...target }),
          ended: (message) => navigate({ screen: 'sessions' }, message),
          // Revoked, or the grant changed: ask the server what is left (sign-in, or the list).
          accessEnded: (message) => {
            history.replaceState(null, '', '/')
            void checkAccess(message)
          },
        }),
      `${route.session}:${route.window} · Handoff`,
    )
    return
  }
  // The list and the inbox both show events without a tab: those count as seen there.
  unseen.viewing('sessions')
  const open = (target: TerminalTarget) => navigate({ screen: 'terminal', ...target })
  if (route.screen === 'inbox') {
    replace('app', () => mountInboxScreen(root, { device: current, unseen, open, back: () => navigate({ screen: 'sessions' }) }), 'Inbox · Handoff')
    return
  }
  replace('app', () =>
    mountSessionsScreen(root, {
      device: current,
      notice,
      unseen,
      open,
      openInbox: () => navigate({ screen: 'inbox' }),
      signOut: () => void leave(),
    }),
  )
}

function navigate(route: Route, notice?: string): void {
  const path = pathOf(route)
  if (path !== location.pathname) history.pushState(null, '', path)
  show(route, notice)
}

/**
 * Asks the server who this phone is, then shows the route in the address
 * bar (a deep link survives sign-in), the sign-in screen, or "Access expired".
 */
async function checkAccess(notice?: string, refusedAsExpired = false): Promise<void> {
  const current = ++checks
  const shown = shownBeforeCheck
  shownBeforeCheck = undefined
  let answer: Device
  try {
    answer = await me()
  } catch (error) {
    if (current !== checks) return
    // That terminal stays while the computer is out of reach: it says so itself,
    // reconnects, and the server decides its socket as it decides any.
    if (shown && isUnreachable(error)) return
    device = undefined
    if (error instanceof ApiError && error.code === 'NOT_SIGNED_IN') return showSignIn(notice)
    // The computer is off or out of reach: the last known sessions and a retry, not an error page.
    if (isUnreachable(error)) return showOffline(notice)
    const message = error instanceof Error ? error.message : String(error)
    replace('problem', () => mountProblemScreen(root, message, () => void checkAccess(notice)))
    return
  }
  if (current !== checks) return
  device = answer
  rememberDevice(answer)
  // A request was just refused as expired: trust that over a /api/me read a
  // moment too early, or the two would send the phone back and forth.
  if (answer.state === 'soft-expired' || refusedAsExpired) return showExpired(answer)
  if (shown && sameDevice(shown, answer)) return
  show(parseRoute(location.pathname), notice)
}

function showOffline(notice?: string): void {
  if (showing === 'offline') return
  replace('offline', () =>
    mountOfflineScreen(root, {
      check: async () => {
        try {
          await me()
        } catch (error) {
          // Still unreachable: keep retrying. Anything else is an answer checkAccess handles.
          if (isUnreachable(error)) return false
        }
        void checkAccess(notice)
        return true
      },
    }),
  )
}

function showSignIn(notice?: string): void {
  ++checks
  device = undefined
  // Not signed in: the next deep link asks before it shows anything.
  forgetDevice()
  replace('signin', () => mountSignInScreen(root, { notice, signedIn: () => void checkAccess() }), 'Sign in · Handoff')
}

function showExpired(expired: Device): void {
  replace(
    'expired',
    () => mountExpiredScreen(root, { device: expired, checkAgain: () => void checkAccess(), signOut: () => void leave() }),
    'Access expired · Handoff',
  )
}

function showPair(): void {
  ++checks
  const home = () => history.replaceState(null, '', '/')
  // The secret goes straight from the address bar into the pairing screen's closure.
  replace(
    'pair',
    () =>
      mountPairScreen(root, takePairingSecret(), {
        done: () => {
          home()
          void checkAccess()
        },
        signIn: (message) => {
          home()
          showSignIn(message)
        },
      }),
    'Pair · Handoff',
  )
}

async function leave(): Promise<void> {
  try {
    await signOut()
  } catch (error) {
    const message = `Could not sign out: ${error instanceof Error ? error.message : String(error)}`
    replace('problem', () => mountProblemScreen(root, message, () => void leave()))
    return
  }
  // What this phone kept of the computer: session names and screens (which can hold secrets).
  forgetLastKnown()
  forgetSavedScreens()
  stopUnseenEvents()
  history.replaceState(null, '', '/')
  showSignIn('Signed out.')
}

// Any request that finds the phone signed out (token expired, device
// revoked) or expired replaces the screen; the address bar keeps the route
// to come back to after signing in.
onAccessLost((code) => {
  if (code === 'NOT_SIGNED_IN' && showing !== 'signin') showSignIn('Your sign-in has ended. Sign in again to continue.')
  else if (code === 'DEVICE_EXPIRED' && showing !== 'expired') void checkAccess(undefined, true)
})

addEventListener('popstate', () => {
  const route = parseRoute(location.pathname)
  if (route.screen === 'pair') showPair()
  else if (showing === 'app' && device) show(route)
  else if (showing === 'pair') void checkAccess()
  // The sign-in and expired screens stay; they continue to the new address.
})

// A second pairing link opened in the same tab changes only the fragment.
addEventListener('hashchange', () => {
  if (location.hash && parseRoute(location.pathname).screen === 'pair') showPair()
})

// Before any screen: after long enough in the background, the passkey first.
installResumeLock(root)

// Read the pairing secret before anything else can see the address bar.
const firstRoute = parseRoute(location.pathname)
if (firstRoute.screen === 'pair') showPair()
else if (firstRoute.screen === 'terminal') openDeepLink(firstRoute)
else void checkAccess()

/**
 * A deep link (a notification, a home-screen shortcut, the app reopened on
 * a tab) starts all its terminal needs at once: xterm.js, the terminal's
 * socket and the sign-in check, rather than one after another. With the
 * phone remembered from the last check, the terminal and its saved screen
 * show before this check answers, and stay if it describes the phone alike.
 */
function openDeepLink(route: Extract<Route, { screen: 'terminal' }>): void {
  void preloadTerminal().catch(() => {})
  const known = rememberedDevice()
  const prefs = phonePrefs(known?.id)
  openEarlySocket(socketUrl(route, EARLY_SOCKET_SIZE, policyFor(prefs, known?.readOnly ?? false), prefs.historyLines))
  if (!known) return void checkAccess()
  device = known
  shownBeforeCheck = known
  void checkAccess()
  show(route)
}

// Only production builds have a service worker (vite-plugin-pwa builds it
// into dist/web/sw.js); in dev it would cache modules Vite serves live.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  const wb = new Workbox('/sw.js')
  offerUpdates(wb)
  void wb.register()
}
