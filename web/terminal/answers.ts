import type { Terminal } from '@xterm/xterm'
import { ApiError, answerEvent, answerState, type AnswerStateJson } from '../api.js'
import { h } from '../dom.js'
import { runningUnseenEvents, type StreamEvent } from '../events.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import type { TerminalTarget } from './socket.js'
import './answers.css'

/** `?answer=EVENT_ID`: the tab was opened from a notification that offers choices (the server's push url). */
export const ANSWER_MARKER = 'answer'

/** Output settles this long before the screen is compared with the one the choices were asked on. */
const SETTLE_MS = 300

/** Refusals after which the event can never be answered: its buttons go, the reason stays. */
const FINAL = new Set(['ANSWER_STALE', 'PANE_GONE', 'NO_CHOICES', 'EVENT_NOT_FOUND', 'UNKNOWN_CHOICE', 'READ_ONLY', 'SESSION_NOT_ALLOWED'])

/** The visible rows of the terminal's screen, as text. */
function screenRows(term: Terminal): string[] {
  const buffer = term.buffer.active
  return Array.from({ length: term.rows }, (_, row) => buffer.getLine(buffer.baseY + row)?.translateToString(true) ?? '')
}

/**
 * The choices of an event for this tab ("1. Yes / 2. No / Esc"), as large
 * buttons above the toolbar: for a tab opened from a notification (the
 * `?answer=` marker: iOS shows no actions on notifications), and for a live
 * event with choices while the tab is shown. A tap sends the choice through
 * `POST /api/events/ID/answer`, to the exact pane. The buttons go once
 * answered, dismissed, settled at the computer (a later event from the pane,
 * or the server says so), or when the screen changes on more than one row
 * (typing on the prompt's own line does not count). Read-only phones get none.
 */
export class AnswerChoices implements Disposable {
  readonly element = h('div', { class: 'answer-bar', 'data-testid': 'answer-bar', role: 'group', 'aria-label': 'Answer', hidden: true })
  private readonly store = new DisposableStore()
  private shown: AnswerStateJson | undefined
  /** The screen when the choices were shown (or once the terminal went live after that). */
  private baseline: string[] | undefined
  private live = false
  private settle: Disposable | undefined

  constructor(
    private readonly target: TerminalTarget,
    private readonly readOnly: boolean,
    private readonly term: Terminal,
  ) {
    if (readOnly) return
    const marked = Number(new URLSearchParams(location.search).get(ANSWER_MARKER))
    if (Number.isSafeInteger(marked) && marked > 0) {
      // Once read, the marker goes: a reload or a shared link does not ask again.
      history.replaceState(history.state, '', location.pathname)
      void this.consider(marked)
    }
    const events = runningUnseenEvents()
    if (events) this.store.add(events.onEvent((event) => this.onEvent(event)))
    this.store.add(term.onWriteParsed(() => this.screenMoved()))
  }

  /**
   * Whether the terminal shows the pane as it is now (synced, online). The
   * screen is compared only then: a saved screen, or the redraw on
   * (re)connecting, is not the prompt changing.
   */
  setLive(live: boolean): void {
    this.live = live
  }

  dispose(): void {
    this.store.dispose()
  }

  private onEvent(event: StreamEvent): void {
    const tab = event.tab
    if (!tab || tab.session !== this.target.session || tab.window !== this.target.window) return
    if (event.choices) return void this.consider(event.id)
    // Something else happened in this tab: the server tells whether the question still stands.
    if (this.shown && event.id > this.shown.event) void this.consider(this.shown.event)
  }

  /** Asks the server about event `id`: its choices are shown when it is for this tab and still open. */
  private async consider(id: number): Promise<void> {
    if (this.readOnly || (this.shown && id < this.shown.event)) return
    let state: AnswerStateJson
    try {
      state = await answerState(id)
    } catch {
      // Nothing to answer (gone, no choices) or the server out of reach: no buttons.
      if (this.shown?.event === id) this.hide()
      return
    }
    if (this.store.isDisposed || state.session !== this.target.session || state.window !== this.target.window) return
    if (state.closed) {
      if (this.shown?.event === id) this.hide()
      return
    }
    if (this.shown?.event !== id) this.show(state)
  }

  private show(state: AnswerStateJson): void {
    this.shown = state
    this.baseline = this.live ? screenRows(this.term) : undefined
    const text = h('p', { class: 'answer-text', 'data-testid': 'answer-text' }, state.title ? `${state.title}: ${state.message}` : state.message)
    const dismiss = h('button', { type: 'button', class: 'answer-dismiss', 'data-testid': 'answer-dismiss', 'aria-label': 'Dismiss' }, '×')
    const buttons = state.choices.map((label, index) =>
      h('button', { type: 'button', class: 'answer-choice', 'data-testid': `answer-choice-${index}` }, label),
    )
    const problem = h('p', { class: 'answer-problem', 'data-testid': 'answer-problem', role: 'alert', hidden: true })
    const row = h('div', { class: 'answer-choices' }, ...buttons)
    for (const button of [...buttons, dismiss]) {
      // Keeps focus (and the soft keyboard) on the terminal, as the toolbar's keys do.
      button.addEventListener('pointerdown', (event) => event.preventDefault())
    }
    dismiss.addEventListener('click', () => this.hide())
    buttons.forEach((button, index) => button.addEventListener('click', () => void this.answer(state, index, buttons, problem)))
    this.element.replaceChildren(h('div', { class: 'answer-head' }, text, dismiss), row, problem)
    this.element.hidden = false
  }

  private async answer(state: AnswerStateJson, index: number, buttons: HTMLButtonElement[], problem: HTMLElement): Promise<void> {
    for (const button of buttons) button.disabled = true
    try {
      await answerEvent(state.event, index)
      if (this.shown === state) this.hide()
    } catch (error) {
      const code = error instanceof ApiError ? error.code : 'NETWORK_ERROR'
      problem.textContent = error instanceof Error ? error.message : String(error)
      problem.hidden = false
      if (FINAL.has(code)) for (const button of buttons) button.remove()
      else for (const button of buttons) button.disabled = false
    }
  }

  private hide(): void {
    this.shown = undefined
    this.baseline = undefined
    this.settle?.dispose()
    this.element.hidden = true
    this.element.replaceChildren()
  }

  /** After output settles: the first live screen is the baseline; later ones that differ on more than one row hide the choices. */
  private screenMoved(): void {
    if (!this.shown || !this.live) return
    this.settle?.dispose()
    this.settle = this.store.timeout(() => {
      if (!this.shown || !this.live) return
      const rows = screenRows(this.term)
      if (!this.baseline) return void (this.baseline = rows)
      const baseline = this.baseline
      if (rows.filter((row, i) => row !== baseline[i]).length > 1) this.hide()
    }, SETTLE_MS)
  }
}
