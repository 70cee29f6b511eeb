/** What the service worker receives in a Web Push, as JSON padded with spaces (docs/notifications.md). Types only. */
export interface PushPayload {
  id: number
  ts: string
  type: string
  title: string
  /** Empty for a device with private notifications. */
  body: string
  /** A `TabTag`, or `type:TYPE` for an event without a tab: a newer one replaces the older. */
  tag: string
  /** `/t/SESSION/WINDOW` (URL-encoded session), or `/`; `?answer=ID` when it carries choices. */
  url: string
  /**
   * The labels of the event's choices, for a device that may answer it: the
   * worker shows them as actions, and answers choice N (its index) with
   * `POST /api/events/ID/answer`. Absent otherwise.
   */
  choices?: string[]
}

/** The tag of a tmux window's notifications: `tab:SESSION:WINDOW`. */
export type TabTag = `tab:${string}:${number}`
