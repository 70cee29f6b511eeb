import type { SessionJson, SessionWithWindowsJson, WindowJson } from '../../protocol/index.js'
import type { Session, Window } from '../tmux/index.js'

// The JSON shapes of sessions and windows (docs/protocol.md), built in one
// place: the HTTP API and the live `sessions` event send the same fields.

/** A session as `GET /api/sessions` lists it. */
export const sessionJson = (s: Session): SessionJson => ({ name: s.name, windows: s.windows, attached: s.attached, activity: s.activity })

/** A window of `session` as `GET /api/sessions/:session/windows` lists it. */
export const windowJson =
  (session: Pick<Session, 'statusLines'>) =>
  (w: Window): WindowJson => ({
    index: w.index,
    name: w.name,
    active: w.active,
    title: w.title,
    command: w.command,
    path: w.path,
    activity: w.activity,
    width: w.width,
    height: w.height,
    statusLines: session.statusLines,
    panes: w.panes,
  })

/** A session with its windows, as the live sessions list sends them. */
export const sessionWithWindowsJson = (entry: { session: Session; windows: readonly Window[] }): SessionWithWindowsJson => ({
  ...sessionJson(entry.session),
  windowList: entry.windows.map(windowJson(entry.session)),
})
