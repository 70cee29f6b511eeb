import { basename } from 'node:path'
import { resolveConfig } from '../../server/config.js'
import { Tmux, type Session, type Window } from '../../server/tmux/index.js'
import type { CommonFlags } from '../main.js'
import { forTerminal } from '../../server/untrusted.js'
import { ago, render } from '../output.js'
import { serverState } from '../server-record.js'

interface Listing {
  url: string
  serverRunning: boolean
  sessions: (Omit<Session, 'id'> & { windowList: Omit<Window, 'id'>[] })[]
}

const human = (l: Listing): string => {
  const lines: string[] = []
  if (l.sessions.length === 0) lines.push('No tmux sessions. Start one with: tmux new -s main')
  for (const s of l.sessions) {
    const attached = s.attached > 0 ? `, ${s.attached} attached` : ''
    lines.push(`${forTerminal(s.name)}  (${s.windows} window${s.windows === 1 ? '' : 's'}${attached}, active ${ago(s.activity)})`)
    for (const w of s.windowList) {
      // Names, titles, commands and folders are whatever programs and users made them.
      const label = w.title && w.title !== w.name ? `${forTerminal(w.name)} · ${forTerminal(w.title)}` : forTerminal(w.name)
      lines.push(`  ${w.active ? '*' : ' '}${w.index}: ${label}  [${forTerminal(w.command)}]  ${forTerminal(basename(w.path) || w.path)}`)
    }
  }
  lines.push('')
  lines.push(l.serverRunning ? `Open ${l.url}` : `Handoff is not running. Start it with: handoff serve   (then open ${l.url})`)
  return `${lines.join('\n')}\n`
}

/** `handoff`: the sessions with their windows, and where to open them. */
export async function list(flags: CommonFlags): Promise<void> {
  const config = resolveConfig(flags)
  const tmux = new Tmux(config.tmuxSocket)
  const sessions = await tmux.listSessions()
  const withWindows = await Promise.all(
    sessions.map(async ({ id: _id, ...s }) => ({
      ...s,
      // A session killed between the two calls simply shows no windows.
      windowList: (await tmux.listWindows({ id: _id, ...s }).catch(() => [])).map(({ id: _wid, ...w }) => w),
    })),
  )
  const state = await serverState(config.home, config.port)
  render<Listing>({ url: state.url, serverRunning: state.running, sessions: withWindows }, flags.json, human)
}
