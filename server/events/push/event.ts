/**
 * What the sender needs of an event: the fields of `HandoffEvent`
 * (server/events/schema.ts, docs/notifications.md). Structural, so the
 * pipeline's own type is accepted as it is.
 */
export interface PushEvent {
  id: number
  /** UTC ISO 8601. */
  ts: string
  type: string
  message: string
  title?: string | undefined
  tmux_session?: string | undefined
  tmux_window?: number | undefined
  cwd?: string | undefined
  claude_session_id?: string | undefined
  source?: string | undefined
  tmux_pane?: string | undefined
  choices?: { label: string; keys: string }[] | undefined
}

/**
 * Whether the event can be answered at all: it offers choices, and names the
 * pane and the tab they go to (docs/notifications.md#choices).
 */
export const offersChoices = (event: PushEvent): boolean =>
  (event.choices?.length ?? 0) > 0 && event.tmux_pane !== undefined && tabOf(event) !== null

/** The event's tmux tab, or null when it has none (or only half of one). */
export function tabOf(event: PushEvent): { session: string; window: number } | null {
  const { tmux_session: session, tmux_window: window } = event
  if (typeof session !== 'string' || session === '') return null
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 0) return null
  return { session, window }
}
