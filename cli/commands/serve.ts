import { resolveConfig } from '../../server/config.js'
import { startServer } from '../../server/index.js'
import { VERSION } from '../../server/paths.js'
import { Tmux } from '../../server/tmux/index.js'
import type { CommonFlags } from '../main.js'
import { note } from '../output.js'

/** `handoff serve`: runs until SIGINT or SIGTERM, then closes every terminal and exits. */
export async function serve(flags: CommonFlags & { local?: boolean }): Promise<void> {
  const config = resolveConfig(flags)
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
  process.stdout.write(`${lines.join('\n')}\n`)

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      note(`${signal}: stopping`)
      void server.close().then(resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
