import { Hono, type Context } from 'hono'
import * as v from 'valibot'
import type { AnswerSentJson, AnswerStateJson } from '../../protocol/index.js'
import { authorize, type Allowed } from '../access/index.js'
import { HandoffError } from '../errors.js'
import type { Action } from '../gate/index.js'
import { jsonBody, type AppEnv } from '../http/index.js'
import type { Tmux } from '../tmux/index.js'
import { parseChoiceKeys } from './choices.js'
import { PIPELINE_LIMITS, type EventPipeline } from './pipeline.js'
import { offersChoices } from './push/index.js'
import type { HandoffEvent } from './schema.js'

export const ANSWER_LIMITS = {
  /** Answered events remembered (in memory), so a second answer to one is refused; the oldest are forgotten. */
  rememberedAnswers: 1000,
} as const

export interface AnswerRouteDeps {
  pipeline: Pick<EventPipeline, 'recent'>
  tmux: Pick<Tmux, 'findPane' | 'sendKeys'>
  /** HANDOFF_HOME: devices and the audit log. */
  home: string
  now: () => number
}

/** An event that can be answered: choices, and the tab and pane they go to (`offersChoices`). */
type Answerable = HandoffEvent & Required<Pick<HandoffEvent, 'choices' | 'tmux_pane' | 'tmux_session' | 'tmux_window'>>

const AnswerBody = v.strictObject({ choice: v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(0)) })

/** `:id`: an event id, a whole number ≥ 1. */
function parseEventId(raw: string): number {
  const n = Number(raw)
  if (/^\d{1,16}$/.test(raw) && Number.isSafeInteger(n) && n >= 1) return n
  throw new HandoffError('BAD_REQUEST', 400, `an event id is a whole number, 1 or more, got ${JSON.stringify(raw.slice(0, 40))}`)
}

/**
 * Whether a later event means the question was settled at the computer: a
 * new question, or anything but a `notify` without choices (a reminder that
 * it still waits), from the same pane.
 */
const settles = (later: HandoffEvent, event: Answerable): boolean =>
  later.tmux_pane === event.tmux_pane && (later.choices !== undefined || later.type !== 'notify')

const asAnswerable = (event: HandoffEvent): Answerable | null => (offersChoices(event) ? (event as Answerable) : null)

/**
 * `GET` and `POST /api/events/:id/answer`: what an event lets a device answer,
 * and the answer itself, typed into the exact pane through the gate
 * (`input` on the event's session, audited like terminal input). The pane is
 * found by its id in tmux's own list and must still be in the event's tab; an
 * event answered once, or settled by a later event from its pane, is closed.
 *
 * @see docs/protocol.md#answers
 */
export function createAnswerRoutes(deps: AnswerRouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  /** Event id → the label answered; a Map iterates oldest first. */
  const answered = new Map<number, string>()

  const allow = (c: Context<AppEnv>, action: Action, event: HandoffEvent | undefined, note?: string): Promise<Allowed> =>
    authorize(deps.home, {
      device: c.get('device'),
      action,
      ...(event?.tmux_session === undefined ? {} : { session: event.tmux_session }),
      peer: c.get('peer'),
      now: deps.now(),
      ...(note === undefined ? {} : { note }),
    })

  /** The event and those after it, from the pipeline's ring. */
  const lookup = (id: number): { event: HandoffEvent | undefined; later: HandoffEvent[] } => {
    const [first, ...later] = deps.pipeline.recent(id - 1, PIPELINE_LIMITS.ringSize)
    return first?.id === id ? { event: first, later } : { event: undefined, later }
  }

  /** The event as one this device may answer, after the gate has decided; EVENT_NOT_FOUND or NO_CHOICES otherwise. */
  const answerable = async (c: Context<AppEnv>, id: number, action: Action, note?: string) => {
    const { event } = lookup(id)
    // A missing event, or one without a session, names no session for `input`: the gate decides whether
    // the device may learn of events at all, and it learns only that there is nothing to answer.
    await allow(c, event?.tmux_session === undefined ? 'subscribe-events' : action, event, note)
    if (!event) throw new HandoffError('EVENT_NOT_FOUND', 404, `no event ${id} among the recent ones (the server keeps the last ${PIPELINE_LIMITS.ringSize})`)
    const open = asAnswerable(event)
    if (!open) throw new HandoffError('NO_CHOICES', 409, `event ${id} offers no choices to answer (or names no tmux pane and tab to type them into)`)
    return open
  }

  /** PANE_GONE when the event's pane no longer exists or has left its tab (tmux is asked); null while it is there. */
  const paneGone = async (event: Answerable): Promise<HandoffError | null> => {
    const where = await deps.tmux.findPane(event.tmux_pane)
    const tab = `${event.tmux_session}:${event.tmux_window}`
    if (!where) return new HandoffError('PANE_GONE', 410, `pane ${event.tmux_pane} of ${tab} no longer exists`)
    if (where.session !== event.tmux_session || where.window !== event.tmux_window) {
      return new HandoffError('PANE_GONE', 410, `pane ${event.tmux_pane} is no longer in ${tab}`)
    }
    return null
  }

  /** ANSWER_STALE when the event was answered, or settled by a later one; null while it is open. Synchronous, so no answer slips in between it and the next step. */
  const stale = (event: Answerable): HandoffError | null => {
    const label = answered.get(event.id)
    if (label !== undefined) return new HandoffError('ANSWER_STALE', 409, `event ${event.id} was already answered (${JSON.stringify(label)})`)
    const settled = lookup(event.id).later.find((e) => settles(e, event))
    if (settled) return new HandoffError('ANSWER_STALE', 409, `event ${settled.id} came from the same pane after event ${event.id}: that question has moved on`)
    return null
  }

  app.get('/api/events/:id/answer', async function answerState(c) {
    const event = await answerable(c, parseEventId(c.req.param('id')), 'subscribe-events')
    const closed = (await paneGone(event)) ?? stale(event)
    const state: AnswerStateJson = {
      event: event.id,
      ...(event.title === undefined ? {} : { title: event.title }),
      message: event.message,
      session: event.tmux_session,
      window: event.tmux_window,
      pane: event.tmux_pane,
      choices: event.choices.map((choice) => choice.label),
      closed: closed && { code: closed.code, message: closed.message },
    }
    c.header('Cache-Control', 'no-store')
    return c.json(state)
  })

  app.post('/api/events/:id/answer', async function answer(c) {
    const id = parseEventId(c.req.param('id'))
    const { choice: index } = await jsonBody(c.req.raw, AnswerBody)
    const event = await answerable(c, id, 'input', `answer to event ${id}, choice ${index}`)
    const choice = event.choices[index]
    if (!choice) throw new HandoffError('UNKNOWN_CHOICE', 400, `event ${id} offers choices 0 to ${event.choices.length - 1}, got ${index}`)
    const keys = parseChoiceKeys(choice.keys)
    if (!keys.ok) throw new HandoffError('NO_CHOICES', 409, `event ${id}'s choice ${index} has keys that cannot be typed: ${keys.reason}`)
    const gone = await paneGone(event)
    if (gone) throw gone
    const closed = stale(event)
    if (closed) throw closed
    // Taken before typing, in the same turn as the check: two answers at once type once.
    answered.set(id, choice.label)
    if (answered.size > ANSWER_LIMITS.rememberedAnswers) answered.delete(answered.keys().next().value!)
    try {
      await deps.tmux.sendKeys(event.tmux_pane, keys.inputs)
    } catch (err) {
      answered.delete(id)
      throw err
    }
    const sent: AnswerSentJson = { event: id, choice: index, label: choice.label, pane: event.tmux_pane }
    return c.json(sent)
  })

  return app
}
