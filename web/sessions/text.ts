import { ApiError } from '../api.js'

/** What to tell the user about a failed request: the server's own sentence, or what went wrong. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message
  return `Something went wrong: ${String(error)}`
}

/** "1 window", "3 windows". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** `/home/me/src/app` → `app`; the root stays `/`. */
export function lastFolder(path: string): string {
  return path.split('/').filter(Boolean).at(-1) ?? (path ? '/' : '')
}
