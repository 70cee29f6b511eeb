import * as v from 'valibot'
import type { EventChoiceJson, EventJson } from '../../protocol/index.js'
// The file itself, not server/tmux/index.ts: `handoff notify` loads this and must start fast.
import { PANE_ID_PATTERN } from '../tmux/tmux.js'
import { CHOICE_LIMITS, parseChoiceKeys } from './choices.js'

/**
 * Every limit on an event, in characters (code points) unless the name says
 * bytes. Longer text is cut and ends in "…"; docs/notifications.md lists them.
 */
export const EVENT_LIMITS = {
  messageChars: 1000,
  titleChars: 200,
  sessionChars: 256, // tmux_session
  cwdChars: 1024,
  claudeSessionIdChars: 128,
  sourceChars: 64,
  /** One line of events.jsonl as the tailer reads it; a longer line is skipped without being held in memory. */
  lineBytes: 64 * 1024,
} as const

/** `type`: a short lowercase word. By convention notify, stop, error or custom. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/

/** One event, as one line of HANDOFF_HOME/events.jsonl: the shape the API sends too (protocol/api.ts). */
export type HandoffEvent = EventJson
export type EventChoice = EventChoiceJson

// Terminal escape sequences as a whole, so no parameter bytes are left behind as text:
// CSI (ESC [ or U+009B ... final byte), OSC/DCS/SOS/PM/APC strings (up to BEL or ST),
// then any other two-character ESC sequence.
const ESCAPE_SEQUENCES =
  /(?:\u001b\[|\u009b)[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[\u0020-\u002f]*[\u0030-\u007e]?/g
// Line and tab characters read as a space; U+2028/U+2029 break lines in some readers.
const SPACES = /[\t\n\v\f\r\u0085\u2028\u2029]+/g
// What is left of C0, DEL and C1, and the bidi controls that reorder text (Trojan Source, CVE-2021-42574).
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
// A lone surrogate is not text; JSON would carry it, a notification would show garbage.
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * Makes event text safe to show anywhere: terminal escape sequences (ESC and
 * C1 forms) are removed whole, other C0/C1 controls and bidi overrides are
 * removed, line breaks and tabs become one space, and the result is cut to
 * `maxChars` code points (ending in "…" when cut).
 *
 * @example sanitizeEventText('\u001b[31mbuild\u001b[0m failed\n', EVENT_LIMITS.messageChars) // 'build failed'
 */
export function sanitizeEventText(raw: string, maxChars: number): string {
  const clean = raw
    .replace(ESCAPE_SEQUENCES, '')
    .replace(SPACES, ' ')
    .replace(CONTROLS, '')
    .replace(LONE_SURROGATES, '\ufffd')
    .trim()
  if (clean.length <= maxChars) return clean
  const chars = [...clean]
  return chars.length <= maxChars ? clean : `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…`
}

const text = (maxChars: number) => v.pipe(v.string(), v.transform((s) => sanitizeEventText(s, maxChars)))
// An optional field that is empty once cleaned is left out, rather than refusing the line.
const optionalText = (maxChars: number) =>
  v.optional(v.pipe(v.string(), v.transform((s) => sanitizeEventText(s, maxChars) || undefined)))

/** `keys` in canonical spelling, or an issue that says what is wrong with it. */
const choiceKeys = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed = parseChoiceKeys(dataset.value)
    if (parsed.ok) return parsed.canonical
    addIssue({ message: parsed.reason })
    return NEVER
  }),
)

const choice = v.object({
  label: v.pipe(
    v.string(),
    v.transform((s) => sanitizeEventText(s, CHOICE_LIMITS.labelChars)),
    v.minLength(1, 'must not be empty once control characters are removed'),
  ),
  keys: choiceKeys,
})

/** Fields every event has, whoever wrote it; unknown fields are dropped. */
const FIELDS = {
  type: v.pipe(v.string(), v.regex(EVENT_TYPE_PATTERN, 'must be a short lowercase word matching /^[a-z][a-z0-9_-]{0,31}$/')),
  message: text(EVENT_LIMITS.messageChars),
  title: optionalText(EVENT_LIMITS.titleChars),
  tmux_session: optionalText(EVENT_LIMITS.sessionChars),
  tmux_window: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER))),
  cwd: optionalText(EVENT_LIMITS.cwdChars),
  claude_session_id: optionalText(EVENT_LIMITS.claudeSessionIdChars),
  source: optionalText(EVENT_LIMITS.sourceChars),
  tmux_pane: v.optional(v.pipe(v.string(), v.regex(PANE_ID_PATTERN, 'must be a tmux pane id such as %5'))),
  // An empty list is left out, as empty optional text is.
  choices: v.optional(
    v.pipe(
      v.array(choice),
      v.maxLength(CHOICE_LIMITS.count, `must offer at most ${CHOICE_LIMITS.count} choices`),
      v.transform((list) => (list.length > 0 ? list : undefined)),
    ),
  ),
}

/**
 * A line of events.jsonl, from `handoff notify` or any other program. Text is
 * sanitized on the way in, and `ts` (any ISO 8601 offset) comes out in UTC.
 */
export const EventSchema = v.object({
  id: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)),
  ts: v.pipe(
    v.string(),
    v.isoTimestamp('must be an ISO 8601 time'),
    v.transform((s) => new Date(s)),
    v.check((d) => !Number.isNaN(d.getTime()), 'must be an ISO 8601 time'),
    v.transform((d) => d.toISOString()),
  ),
  ...FIELDS,
})

/** What a writer gives: an event without `id` (allocated by appendEvent) and with an optional time (ms since the epoch). */
export const EventInputSchema = v.object({
  ...FIELDS,
  ts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
})

export type EventInput = v.InferInput<typeof EventInputSchema>

// The schema and the interface must agree; this fails to compile if they drift.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const schemaMatches: Same<v.InferOutput<typeof EventSchema>, HandoffEvent> = true
void schemaMatches

/** The event in one line of text, or a reason why it is not one. Never throws. */
export function parseEventLine(line: string): { ok: true; event: HandoffEvent } | { ok: false; reason: 'malformed' | 'invalid'; detail: string } {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not JSON' }
  }
  const parsed = v.safeParse(EventSchema, raw)
  if (parsed.success) return { ok: true, event: dropEmpty(parsed.output) }
  const issue = parsed.issues[0]
  return { ok: false, reason: 'invalid', detail: `${v.getDotPath(issue) ?? 'line'}: ${issue.message}` }
}

// valibot keeps an optional key that was present as undefined; events carry absent keys only.
function dropEmpty(event: HandoffEvent): HandoffEvent {
  for (const key of Object.keys(event) as (keyof HandoffEvent)[]) if (event[key] === undefined) delete event[key]
  return event
}

/**
 * The line `handoff notify` writes: compact JSON without its newline. Also
 * escapes DEL, C1 and U+2028/U+2029 (as audit lines do), so the line stays
 * one line in every reader and parses back the same.
 */
export const serializeEvent = (event: HandoffEvent): string =>
  JSON.stringify(event).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
