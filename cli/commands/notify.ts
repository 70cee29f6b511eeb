// Imports the writer and the tmux helper directly, not their folders' index.ts:
// notify runs from hooks and must start in well under 50 ms, so it loads nothing else.
import { HandoffError } from '../../server/errors.js'
import { CHOICE_LIMITS, parseChoiceKeys } from '../../server/events/choices.js'
import { appendEvent } from '../../server/events/log.js'
import { sanitizeEventText, type EventChoice, type EventInput, type HandoffEvent } from '../../server/events/schema.js'
import { defaultHome } from '../../server/store/files.js'
import { PANE_ID_PATTERN, paneLocation, socketPathFromTmuxEnv } from '../../server/tmux/tmux.js'
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
  /** A pane id such as `%5`, as typed. */
  tmuxPane?: string
  /** `LABEL=KEYS`, once per --choice, in order. */
  choice?: string[]
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

function parsePane(raw: string | undefined): string | undefined {
  if (raw === undefined || PANE_ID_PATTERN.test(raw)) return raw
  fail(`--tmux-pane must be a tmux pane id such as %5 (what $TMUX_PANE holds), got ${JSON.stringify(raw)}`, Exit.Usage)
}

/** One `--choice LABEL=KEYS`: split at the first "=", so the keys may hold one. */
function parseChoice(raw: string): EventChoice {
  const eq = raw.indexOf('=')
  const example = `such as --choice 'Yes=y<Enter>'`
  if (eq === -1) fail(`--choice must be LABEL=KEYS, ${example}, got ${JSON.stringify(raw)}`, Exit.Usage)
  const label = sanitizeEventText(raw.slice(0, eq), CHOICE_LIMITS.labelChars)
  if (label === '') fail(`--choice needs a label (text) before "=", ${example}, got ${JSON.stringify(raw)}`, Exit.Usage)
  const keys = parseChoiceKeys(raw.slice(eq + 1))
  if (!keys.ok) fail(`--choice ${JSON.stringify(label)}: its keys ${keys.reason}`, Exit.Usage)
  return { label, keys: keys.canonical }
}

function parseChoices(raw: readonly string[] | undefined): EventChoice[] {
  const list = raw ?? []
  if (list.length > CHOICE_LIMITS.count) fail(`at most ${CHOICE_LIMITS.count} --choice flags, got ${list.length}`, Exit.Usage)
  return list.map(parseChoice)
}

/**
 * The tab and pane: as given, with what is missing taken from the pane this
 * runs in ($TMUX_PANE on the server of $TMUX, or --tmux-pane). A window is
 * only taken from the pane when the session is the pane's own, and the pane
 * only when it is in that tab, so an answer reaches the prompt the event is
 * about. Outside tmux, or if tmux does not answer, whatever was given
 * (possibly nothing).
 */
async function tabOf(flags: NotifyFlags, env: NodeJS.ProcessEnv): Promise<{ session?: string; window?: number; pane?: string }> {
  const given = { session: flags.tmuxSession, window: parseWindow(flags.tmuxWindow), pane: parsePane(flags.tmuxPane) }
  if (given.session !== undefined && given.window !== undefined && given.pane !== undefined) return given
  const socketPath = socketPathFromTmuxEnv(env.TMUX)
  const pane = given.pane ?? env.TMUX_PANE
  if (!socketPath || !pane) return given
  const here = await paneLocation(socketPath, pane, PANE_LOOKUP_MS)
  if (!here) return given
  const session = given.session ?? here.session
  const window = given.window ?? (session === here.session ? here.window : undefined)
  const inTab = session === here.session && (window === undefined || window === here.window)
  return { session, window, pane: given.pane ?? (inTab ? pane : undefined) }
}

/**
 * `handoff notify`: appends one event to HANDOFF_HOME/events.jsonl, with
 * the choices of --choice when it knows the pane to answer in. Never
 * talks to the server, so it works (and exits 0) whether or not one runs.
 * Prints nothing, or the event with --json.
 */
export async function notify(flags: NotifyFlags): Promise<void> {
  const choices = parseChoices(flags.choice)
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
    tmux_pane: tab.pane,
    // Without a pane no answer could reach anything: the choices are left out.
    choices: tab.pane !== undefined && choices.length > 0 ? choices : undefined,
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
