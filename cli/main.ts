import { Command, CommanderError, Option } from 'commander'
import { VERSION } from '../server/paths.js'
import { Exit, failWith } from './output.js'

/** Flags every command that touches tmux or the server shares. */
export interface CommonFlags {
  port?: string
  tmuxSocket?: string
  json?: boolean
}

const portOption = () => new Option('--port <port>', 'port of the Handoff server, 0 picks a free one (env HANDOFF_PORT, default 7438)')
const socketOption = () =>
  new Option('--tmux-socket <name>', 'tmux server socket name, as tmux -L takes it (env HANDOFF_TMUX_SOCKET, default: your default tmux server)')
const jsonOption = () => new Option('--json', 'print JSON (fields in docs/cli.md)')

/**
 * A command's own flags over those given before it, so `handoff status --json`
 * and `handoff --json status` both work. (Commander's optsWithGlobals lets the
 * earlier ones win instead.)
 */
const flagsOf = (command: Command): CommonFlags => ({ ...command.parent?.opts(), ...command.opts() })

/** Each action loads its command's code only when it runs, so --help stays fast. */
const run =
  (load: () => Promise<(flags: CommonFlags) => Promise<void>>) =>
  async (_opts: CommonFlags, command: Command) => {
    try {
      await (await load())(flagsOf(command))
    } catch (err) {
      failWith(err)
    }
  }

const program = new Command('handoff')
  .description('Your tmux sessions on your phone.\nWith no command: lists your tmux sessions and windows, and the URL to open.')
  .version(VERSION, '-v, --version', 'print the version')
  .addOption(portOption())
  .addOption(socketOption())
  .addOption(jsonOption())
  // Without this the program's own --port/--tmux-socket/--json would swallow the same flags given after a command.
  .enablePositionalOptions()
  .helpCommand(true)
  .showHelpAfterError('(run "handoff --help" for usage)')
  .exitOverride()
  .action(run(async () => (await import('./commands/list.js')).list))

program
  .command('serve')
  .description('serve Handoff on this machine (loopback only, until device sign-in exists)')
  .addOption(portOption())
  .addOption(socketOption())
  .action(run(async () => (await import('./commands/serve.js')).serve))

program
  .command('setup')
  .description('prepare this machine: HANDOFF_HOME, tmux and Tailscale checks, the HTTPS certificate, auto-start at login')
  .option('--no-service', 'do not install auto-start at login (a systemd user unit on Linux, a launchd agent on macOS)')
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/setup.js')).setup))

program
  .command('status')
  .description('tmux, the Handoff server and Tailscale: what is found and working')
  .addOption(portOption())
  .addOption(socketOption())
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/status.js')).status))

program
  .command('version')
  .description('print the version')
  .addOption(jsonOption())
  .action((_opts: { json?: boolean }, command: Command) => {
    const opts = flagsOf(command)
    process.stdout.write(opts.json ? `${JSON.stringify({ version: VERSION })}\n` : `handoff ${VERSION}\n`)
  })

try {
  await program.parseAsync(process.argv)
} catch (err) {
  // Commander has already printed its message; help and version are not failures.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? Exit.Ok : Exit.Usage)
  failWith(err)
}
