import type { DiscoveredComputer } from './bridge.js'

/** A computer on the home screen: one the phone opened before, found on the tailnet now, or both. */
export interface HomeComputer {
  name: string
  /** `https://NAME:PORT`: what the web view opens. */
  url: string
  /** Opened from this phone before (kept on the phone). */
  added: boolean
  /** Answering as Handoff on the tailnet right now. */
  online: boolean
  version: string | null
}

/** What the home screen keeps of a computer once opened. */
export interface SavedComputer {
  name: string
  url: string
}

export const DEFAULT_PORT = 7438
const STORE = 'handoff-shell-computers'
const MAX_SAVED = 50

/**
 * A computer's address as typed: `laptop.tail1234.ts.net`, with or without
 * `https://` and a port (default 7438). Anything else (another scheme, a
 * path, credentials, an IP address, which passkeys and certificates do not
 * name) is refused with the reason. Pure.
 */
export function parseComputerAddress(typed: string): { ok: true; computer: SavedComputer } | { ok: false; reason: string } {
  const text = typed.trim()
  if (text === '') return { ok: false, reason: 'Type the computer’s name, such as laptop.tail1234.ts.net.' }
  let url: URL
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`)
  } catch {
    return { ok: false, reason: `“${text}” is not a computer’s name.` }
  }
  if (url.protocol !== 'https:') return { ok: false, reason: 'Handoff is always https://.' }
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return { ok: false, reason: 'Give only the name and port, as handoff serve prints them.' }
  }
  if (/^[\d.]+$/.test(url.hostname) || url.hostname.startsWith('[')) return { ok: false, reason: 'Use the computer’s MagicDNS name, not its address.' }
  if (!url.hostname.includes('.')) return { ok: false, reason: 'Use the full name, such as laptop.tail1234.ts.net.' }
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port)
  return { ok: true, computer: { name: url.hostname, url: `https://${url.hostname}:${port}` } }
}

/** The computers opened before, from the phone's storage (anything unreadable is dropped). */
export function loadSaved(storage: Storage = localStorage): SavedComputer[] {
  let raw: unknown
  try {
    raw = JSON.parse(storage.getItem(STORE) ?? '[]')
  } catch {
    return []
  }
  if (!Array.isArray(raw)) return []
  return raw.flatMap((entry: unknown) => {
    const url = (entry as { url?: unknown } | null)?.url
    if (typeof url !== 'string') return []
    const parsed = parseComputerAddress(url)
    return parsed.ok ? [parsed.computer] : []
  })
}

/** Remembers `computer` first in the list (most recently opened first). */
export function remember(computer: SavedComputer, storage: Storage = localStorage): void {
  const rest = loadSaved(storage).filter((c) => c.url !== computer.url)
  storage.setItem(STORE, JSON.stringify([computer, ...rest].slice(0, MAX_SAVED)))
}

/** Forgets a computer (it still shows while the tailnet finds it). */
export function forget(url: string, storage: Storage = localStorage): void {
  storage.setItem(STORE, JSON.stringify(loadSaved(storage).filter((c) => c.url !== url)))
}

/** The home screen's list: saved ones in their order, then newly found ones by name. Pure. */
export function mergeComputers(saved: readonly SavedComputer[], found: readonly DiscoveredComputer[]): HomeComputer[] {
  const online = new Map(found.map((c) => [c.url, c]))
  const listed = saved.map((c) => ({ name: c.name, url: c.url, added: true, online: online.has(c.url), version: online.get(c.url)?.version ?? null }))
  const known = new Set(saved.map((c) => c.url))
  const fresh = found
    .filter((c) => !known.has(c.url))
    .map((c) => ({ name: c.name, url: c.url, added: false, online: true, version: c.version }))
    .sort((a, b) => a.name.localeCompare(b.name))
  return [...listed, ...fresh]
}
