import type { Page } from 'playwright-core'
import { expect } from 'vitest'
import type { EventChoice, EventInput } from '../../server/events/index.js'

/** The answers Claude Code's hook offers on a permission prompt (plugin/hooks/handoff-hook.mjs). */
export const CLAUDE_CHOICES: EventChoice[] = [
  { label: 'Yes', keys: '1' },
  { label: "Yes, don't ask again", keys: '2' },
  { label: 'No', keys: '<Esc>' },
]

/** Claude Code asking for permission in `pane` of `session:window`, with `choices`, as `handoff notify` records it. */
export function claudeAsks(target: { session: string; window: number; pane: string }, choices: EventChoice[] = CLAUDE_CHOICES): EventInput {
  return {
    type: 'notify',
    title: 'Claude Code',
    message: 'Claude needs your permission to use Bash',
    tmux_session: target.session,
    tmux_window: target.window,
    tmux_pane: target.pane,
    choices,
  }
}

/** Waits until the server behind `page` serves event `id`'s answer state (it has read the event), asked from the page. */
export async function untilAnswerable(page: Page, id: number): Promise<void> {
  const status = () => page.evaluate(async (path) => (await fetch(path)).status, `/api/events/${id}/answer`)
  await expect.poll(status, { timeout: 15_000, interval: 100 }).toBe(200)
}
