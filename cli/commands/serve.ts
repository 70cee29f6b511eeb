import { resolveConfig } from '../../server/config.js'
import { HandoffError } from '../../server/errors.js'
import { startServer } from '../../server/index.js'
import { VERSION } from '../../server/paths.js'
import { Tmux } from '../../server/tmux/index.js'
import { ensureHome } from '../../server/store/index.js'
import { ownCertificateFromFlags, readOwnCertificateChoice } from '../../server/net/index.js'
import type { CommonFlags } from '../main.js'
import { note } from '../output.js'
import { forTerminalLines } from '../../server/untrusted.js'

/** `handoff serve`: runs until SIGINT or SIGTERM, then closes every terminal and exits. */
/** `--session-hours`: how long a phone stays signed in, 1-720 hours. */
function parseSessionHours(raw: string): number {
  const n = Number(raw)
  if (Number.isInteger(n) && n >= 1 && n <= 720) return n * 60 * 60_000
  throw new HandoffError('BAD_CONFIG', 400, `--session-hours must be a whole number of hours 1-720, got ${JSON.stringify(raw)}`)
}

export async function serve(flags: CommonFlags & { local?: boolean; sessionHours?: string; cert?: string; key?: string }): Promise<void> {
  const config = resolveConfig(flags)
  await ensureHome(config.home)
  // --cert and --key for this run, else what `handoff setup --cert` recorded, else tailscale cert.
  const certificate = ownCertificateFromFlags(flags) ?? (await readOwnCertificateChoice(config.home))
  const sessionTtlMs = flags.sessionHours === undefined ? undefined : parseSessionHours(flags.sessionHours)
  const tmux = new Tmux(config.tmuxSocket)
  // Refuse to start against a tmux that cannot attach; a missing tmux is only a warning (the API reports it).
  const versions = await tmux.checkVersions().catch((err: unknown) => {
    if (err instanceof Error && 'code' in err && err.code === 'TMUX_NOT_INSTALLED') {
      note(`warning: ${err.message}`)
      return null
    }
    throw err
  })
  const server = await startServer({
    port: config.port,
    tmuxSocket: config.tmuxSocket,
    home: config.home,
    mode: flags.local ? 'loopback' : 'tailnet',
    certificate,
    ...(sessionTtlMs === undefined ? {} : { sessionTtlMs }),
  })

  const lines = [
    `Handoff ${VERSION} serving ${server.url}`,
    server.mode === 'tailnet'
      ? `  listening on ${server.listening.join(', ')} (tailnet only, HTTPS)`
      : `  listening on ${server.listening.join(', ')} (loopback only${flags.local ? ', as --local asks' : ''})`,
    `  tmux ${versions?.binary ?? 'not found'}, ${config.tmuxSocket ? `server -L ${config.tmuxSocket}` : 'your default tmux server'}`,
    ...server.notes.map((n) => `  ${n}`),
    `  state in ${config.home}`,
    'Pair a phone with: handoff pair',
    'Press Ctrl-C to stop.',
  ]
  // Notes quote Tailscale's names and the system's messages.
  process.stdout.write(`${forTerminalLines(lines.join('\n'))}\n`)

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      note(`${signal}: stopping`)
      void server.close().then(resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
