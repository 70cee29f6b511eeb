import { HandoffError } from './errors.js'
import { defaultHome } from './store/index.js'

export const DEFAULT_PORT = 7438

export interface Config {
  port: number
  /** tmux `-L` socket name; undefined means the user's default tmux server. */
  tmuxSocket: string | undefined
  home: string
}

/** `--port` / HANDOFF_PORT: an integer 0-65535 (0 picks a free port). */
export function parsePort(raw: string, from = '--port'): number {
  const n = Number(raw)
  if (raw.trim() !== '' && Number.isInteger(n) && n >= 0 && n <= 65_535) return n
  throw new HandoffError('BAD_CONFIG', 400, `${from} must be an integer 0-65535, got ${JSON.stringify(raw)}`)
}

/** `--tmux-socket` / HANDOFF_TMUX_SOCKET: a socket file name, as `tmux -L` takes it. */
export function parseSocketName(raw: string, from = '--tmux-socket'): string {
  if (/^[A-Za-z0-9._-]{1,100}$/.test(raw) && raw !== '.' && raw !== '..') return raw
  throw new HandoffError('BAD_CONFIG', 400, `${from} must be a tmux socket name (letters, digits, ".", "_", "-"), got ${JSON.stringify(raw)}`)
}

/** Flags win over the environment, which wins over defaults. */
export function resolveConfig(flags: { port?: string; tmuxSocket?: string }, env: NodeJS.ProcessEnv = process.env): Config {
  const port =
    flags.port !== undefined ? parsePort(flags.port) : env.HANDOFF_PORT ? parsePort(env.HANDOFF_PORT, 'HANDOFF_PORT') : DEFAULT_PORT
  const tmuxSocket =
    flags.tmuxSocket !== undefined
      ? parseSocketName(flags.tmuxSocket)
      : env.HANDOFF_TMUX_SOCKET
        ? parseSocketName(env.HANDOFF_TMUX_SOCKET, 'HANDOFF_TMUX_SOCKET')
        : undefined
  return { port, tmuxSocket, home: defaultHome(env) }
}
