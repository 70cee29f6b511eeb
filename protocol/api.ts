/**
 * The JSON the HTTP API answers with (docs/protocol.md). Types only: the
 * server builds these shapes and the web app reads them, so a change on one
 * side that the other does not follow fails the type-check.
 */

/** Every refusal: `{"error": {"code": "SCREAMING_SNAKE", "message": "one sentence"}}`. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/** `GET /api/health`. */
export interface HealthJson {
  ok: true
  version: string
}

/** A tmux session as `GET /api/sessions` lists it. */
export interface SessionJson {
  name: string
  windows: number
  /** tmux clients on the session (the desktop); Handoff's own control clients are not counted out. */
  attached: number
  /** Last activity, Unix seconds. */
  activity: number
}

/** A tmux window as `GET /api/sessions/:session/windows` lists it. */
export interface WindowJson {
  index: number
  name: string
  /** The window the session's own clients show. */
  active: boolean
  /** The active pane's title, leading status glyphs stripped. */
  title: string
  command: string
  path: string
  activity: number
  /** The window's size in cells, and the rows the session's status line takes from a client. */
  width: number
  height: number
  statusLines: number
  /** How many panes the window has. */
  panes: number
}

/** One session and its windows, as the live sessions list sends them. */
export interface SessionWithWindowsJson extends SessionJson {
  windowList: WindowJson[]
}

/** `event: sessions` on `GET /api/events`: every session this device may list, whenever tmux changes. */
export interface SessionsEventJson {
  type: 'sessions'
  sessions: SessionWithWindowsJson[]
}

/** This phone as the server knows it (`GET /api/me`). */
export interface DeviceJson {
  id: string
  name: string
  /** Session patterns as granted, e.g. `main,work-*`. */
  sessions: string
  readOnly: boolean
  /** Milliseconds since the epoch; null never expires. */
  expiresAt: number | null
  /** `soft-expired`: past `expiresAt`, only a renewal request is allowed. */
  state: 'active' | 'soft-expired'
  renewalRequested: boolean
}

/** `GET /api/me`. */
export interface MeJson {
  device: DeviceJson
}

/**
 * One event: a line of HANDOFF_HOME/events.jsonl (a public interface:
 * docs/notifications.md), as `GET /api/events` streams it and `GET
 * /api/events/recent` lists it. Optional fields are absent, never null.
 */
export interface EventJson {
  /** Positive integer, strictly increasing in the order `handoff notify` writes. */
  id: number
  /** UTC ISO 8601, e.g. 2026-01-02T03:04:05.678Z. */
  ts: string
  type: string
  message: string
  title?: string
  tmux_session?: string
  /** tmux window index. */
  tmux_window?: number
  cwd?: string
  claude_session_id?: string
  source?: string
  /** The tmux pane it came from (`%5`, from $TMUX_PANE): where an answer is typed. */
  tmux_pane?: string
  /** What the user may answer (at most 6); see docs/notifications.md#choices. */
  choices?: EventChoiceJson[]
}

/** One answer an event offers: a label to show, and the keys an answer types into the pane. */
export interface EventChoiceJson {
  label: string
  /** Text and named keys, such as `1`, `y<Enter>` or `<Esc>` (server/events/choices.ts). */
  keys: string
}

/** `GET /api/events/recent`: the newest events the device may see, newest first. */
export interface RecentEventsJson {
  events: EventJson[]
}

/**
 * `GET /api/events/:id/answer`: what an event lets this device answer
 * (docs/protocol.md#answers), for the app's answer buttons.
 */
export interface AnswerStateJson {
  event: number
  title?: string
  message: string
  /** The tab and the pane the answer is typed into. */
  session: string
  window: number
  pane: string
  /** The choices' labels, in order: answer one by its index. */
  choices: string[]
  /** Why it can no longer be answered (a code of docs/errors.md and a sentence), or null while it can. */
  closed: { code: string; message: string } | null
}

/** `POST /api/events/:id/answer` `{"choice": N}`: what was typed, and where. */
export interface AnswerSentJson {
  event: number
  choice: number
  label: string
  pane: string
}

/**
 * A native shell's device key (docs/auth.md, "The native shells' device
 * key"): what the shell's plugin returns when it makes the key for a pairing,
 * sent with the challenge to `POST /api/pair/device-key/verify` as `key`.
 */
export interface DeviceKeyPairing {
  /** SubjectPublicKeyInfo (DER) of the P-256 key, base64url. */
  publicKey: string
  challenge: string
  /** Over "handoff device-key pair v1\n" ORIGIN "\n" CHALLENGE, base64url. */
  signature: string
  signatureFormat: 'p1363' | 'der'
}

/** A device-key sign-in, as `POST /api/auth/device-key/verify` takes it. */
export interface DeviceKeySignIn {
  /** SHA-256 of the key's SubjectPublicKeyInfo, base64url. */
  keyId: string
  challenge: string
  /** The shell's sign-in count for this computer, one more each time. */
  counter: number
  /** Over "handoff device-key sign-in v1\n" ORIGIN "\n" CHALLENGE "\n" COUNTER, base64url. */
  signature: string
  signatureFormat: 'p1363' | 'der'
}
