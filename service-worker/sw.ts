import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'

declare const self: ServiceWorkerGlobalScope

// The build's own files (hashed assets, index.html), listed by
// vite-plugin-pwa at build time. Nothing else is ever cached: there is no
// runtime caching, so /api/ answers (live tmux state) always come from the server.
precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()

// Deep links (/t/SESSION/WINDOW) open from the precached app shell, offline
// too. API paths are never answered with the shell.
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [/^\/api\//] }))

// skipWaiting/clientsClaim are deliberately absent: a new version waits until
// every tab is closed, so a running terminal never changes code underneath.
