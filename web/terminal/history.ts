import type { TerminalTarget } from './socket.js'

/**
 * The pane's text with its colours (`GET …/history`, docs/protocol.md):
 * `screen: false` is only what scrolled off (for the scrollback), `true`
 * the visible screen too (reader mode). Rejects with the server's message.
 */
export async function fetchHistory(target: TerminalTarget, lines: number, screen: boolean): Promise<string> {
  const path = `/api/sessions/${encodeURIComponent(target.session)}/windows/${target.window}/history?lines=${lines}&screen=${screen ? 1 : 0}`
  const response = await fetch(path, { cache: 'no-store' })
  if (!response.ok) {
    let message = `The server answered ${response.status}.`
    try {
      const body = (await response.json()) as { error?: { message?: unknown } }
      if (typeof body.error?.message === 'string') message = body.error.message
    } catch {
      // Not JSON: the status is all there is.
    }
    throw new Error(message)
  }
  return response.text()
}
