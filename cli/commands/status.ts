import { resolveConfig } from '../../server/config.js'
import { HandoffError } from '../../server/errors.js'
import { findTailscale, type TailscaleInfo } from '../../server/net/index.js'
import { eventsHealth, type EventsHealth } from '../../server/events/repair.js'
import { auditHealth, type AuditHealth } from '../../server/store/index.js'
import { Tmux, type TmuxVersions } from '../../server/tmux/index.js'
import type { CommonFlags } from '../main.js'
import { Exit, render } from '../output.js'
import { serverState, type ServerState } from '../server-record.js'

interface Status {
  tmux: { ok: boolean; versions: TmuxVersions | null; problem: string | null }
  server: { running: boolean; url: string; pid: number | null; listening: string[] }
  tailscale: TailscaleInfo
  /** Whether the audit log can be written; when it cannot, the server denies new access. */
  audit: AuditHealth
  /** Whether the event files hold an id that would stop notifications (`handoff events repair` fixes it). */
  events: EventsHealth
}

const human = (s: Status): string =>
  [
    s.tmux.ok
      ? `tmux       ${s.tmux.versions?.binary ?? ''}${s.tmux.versions?.server ? ` (server running ${s.tmux.versions.server})` : ' (no server running)'}`
      : `tmux       problem: ${s.tmux.problem ?? 'unknown'}`,
    s.server.running
      ? `server     running at ${s.server.url}${s.server.pid ? ` (pid ${s.server.pid}, on ${s.server.listening.join(', ')})` : ''}`
      : `server     not running (start it with: handoff serve)`,
    s.tailscale.addresses.length > 0
      ? `tailscale  ${s.tailscale.addresses.join(', ')}`
      : `tailscale  ${s.tailscale.installed ? 'installed, no address (try: tailscale up)' : 'not found (https://tailscale.com/download)'}`,
    s.audit.ok ? 'audit log  ok' : `audit log  PROBLEM since ${s.audit.since}: ${s.audit.reason}; new access is denied until it is fixed`,
    s.events.ok ? 'events     ok' : `events     NEEDS REPAIR: ${s.events.problems.join('; ')}; notifications may stop. Run: handoff events repair`,
    '',
  ].join('\n')

async function tmuxStatus(tmux: Tmux): Promise<Status['tmux']> {
  try {
    return { ok: true, versions: await tmux.checkVersions(), problem: null }
  } catch (err) {
    if (err instanceof HandoffError) return { ok: false, versions: null, problem: err.message }
    throw err
  }
}

/** `handoff status`: exits 1 when tmux is unusable or the audit log cannot be written, else 0. */
export async function status(flags: CommonFlags): Promise<void> {
  const config = resolveConfig(flags)
  const [tmux, server, tailscale, audit, events] = await Promise.all([
    tmuxStatus(new Tmux(config.tmuxSocket)),
    serverState(config.home, config.port),
    findTailscale(),
    auditHealth(config.home),
    eventsHealth(config.home),
  ])
  const serverPart = (st: ServerState): Status['server'] => ({
    running: st.running,
    url: st.url,
    pid: st.record?.pid ?? null,
    listening: st.record?.listening ?? [],
  })
  render<Status>({ tmux, server: serverPart(server), tailscale, audit, events }, flags.json, human)
  if (!tmux.ok || !audit.ok || !events.ok) process.exitCode = Exit.Failure
}
