// Imports the writer and the tmux helper directly, not their folders' index.ts:
// notify runs from hooks and must start in well under 50 ms, so it loads nothing else.
import { HandoffError } from '../../server/errors.js'
import { appendEvent } from '../../server/events/log.js'
import type { EventInput, HandoffEvent } from '../../server/events/schema.js'
import { defaultHome } from '../../server/store/files.js'
import { paneLocation, socketPathFromTmuxEnv } from '../../server/tmux/tmux.js'
import type { CommonFlags } from '../main.js'
import { Exit, fail, render } from '../output.js'

/** The flags of `handoff notify`; Commander requires type and message. */
export interface NotifyFlags extends CommonFlags {
  type: string
  message: string
  title?: string
  tmuxSession?: string
  /** A window index, as typed. */
  tmuxWindow?: string
  cwd?: string
  claudeSessionId?: string
  source?: string
}

/** How long the tab lookup may take before the event is written without one. */
const PANE_LOOKUP_MS = 500

function parseWindow(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined
  if (/^\d{1,9}$/.test(raw)) return Number(raw)
  fail(`--tmux-window must be a window index (a whole number, 0 or more), got ${JSON.stringify(raw)}`, Exit.Usage)
}

/**
 * The tab: as given, with what is missing taken from the pane this runs in
 * ($TMUX_PANE on the server of $TMUX). A window is only taken from the pane
 * when the session is the pane's own. Outside tmux, or if tmux does not
 * answer, whatever was given (possibly nothing).
 */
async function tabOf(flags: NotifyFlags, env: NodeJS.ProcessEnv): Promise<{ session?: string; window?: number }> {
  const given = { session: flags.tmuxSession, window: parseWindow(flags.tmuxWindow) }
  if (given.session !== undefined && given.window !== undefined) return given
  const socketPath = socketPathFromTmuxEnv(env.TMUX)
  const pane = env.TMUX_PANE
  if (!socketPath || !pane) return given
  const here = await paneLocation(socketPath, pane, PANE_LOOKUP_MS)
  if (!here) return given
  const session = given.session ?? here.session
  const window = given.window ?? (session === here.session ? here.window : undefined)
  return { session, window }
}

/**
 * `handoff notify`: appends one event to HANDOFF_HOME/events.jsonl. Never
 * talks to the server, so it works (and exits 0) whether or not one runs.
 * Prints nothing, or the event with --json.
 */
export async function notify(flags: NotifyFlags): Promise<void> {
  const tab = await tabOf(flags, process.env)
  const input: EventInput = {
    type: flags.type,
    message: flags.message,
    title: flags.title,
    tmux_session: tab.session,
    tmux_window: tab.window,
    cwd: flags.cwd,
    claude_session_id: flags.claudeSessionId,
    source: flags.source,
  }
  let event: HandoffEvent
  try {
    event = await appendEvent(defaultHome(), input)
  } catch (err) {
    if (err instanceof HandoffError && err.code === 'BAD_REQUEST') fail(err.message.replace(/^bad event: (\w+)/, (_m, f: string) => `--${f.replace(/_/g, '-')}`), Exit.Usage)
    throw err
  }
  if (flags.json) render(event, true, () => '')
}
