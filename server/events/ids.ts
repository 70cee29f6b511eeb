/**
 * Event ids keep increasing, one by one, whoever writes the file. One line
 * with a wild id (2^53−1, say) must not be able to use them up: the writer
 * would have no id left to give, and the server would take every later event
 * for one it had already handled. So an id is "impossible" past a bound with
 * room to spare, or far ahead of the highest id seen before it; readers skip
 * such a line and report it, and writers do not continue from it.
 */
export const EVENT_ID_LIMITS = {
  /** No id is larger: a million events a day for three thousand years. */
  max: 2 ** 40,
  /** No id is this much more than the highest before it (ids only grow one by one; gaps are crashed writers). */
  maxLeap: 1_000_000,
} as const

/**
 * Why `id` cannot follow `highest` (the highest id seen so far; 0 for none),
 * or null when it can. Pure.
 */
export function impossibleId(id: number, highest: number): string | null {
  if (id > EVENT_ID_LIMITS.max) return `id ${id} is past the largest event id (${EVENT_ID_LIMITS.max})`
  if (highest > 0 && id > highest + EVENT_ID_LIMITS.maxLeap) return `id ${id} leaps ${id - highest} past the highest id before it (${highest})`
  return null
}
