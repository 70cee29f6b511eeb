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
const flagsOf = (command: Command | null): CommonFlags => (command ? { ...flagsOf(command.parent), ...command.opts() } : {})

/**
 * Each action loads its command's code only when it runs, so --help stays
 * fast. Commander passes the positional arguments, then options, then the command.
 */
const run =
  (load: () => Promise<(flags: never, ...args: string[]) => Promise<void>>) =>
  async (...actionArgs: unknown[]) => {
    const command = actionArgs.at(-1) as Command
    const positional = actionArgs.slice(0, -2).filter((a): a is string => typeof a === 'string')
    try {
      // Each command declares the flags it registered; Commander has parsed exactly those.
      await (await load())(flagsOf(command) as never, ...positional)
    } catch (err) {
      failWith(err)
    }
  }

const grantOptions = (command: Command) =>
  command
    .option('--sessions <patterns>', 'sessions it may open: * for all, or globs like main,work-*')
    .option('--read-only', 'it can watch, never type')
    .option('--expires <period>', 'access ends after 1d, 7d, 30d, 12h… or never')
    .option('--name <name>', "the device's name")
    .option('--same-node', 'on the tailnet, accept it only from the node it paired from (not just the same user)')

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
  .description('serve Handoff over HTTPS on this machine\'s Tailscale addresses (or loopback when there is no Tailscale)')
  .option('--local', 'serve http://localhost only, for use on this machine')
  .option('--session-hours <n>', 'how long a phone stays signed in, 1-720 (default 12)')
  .option('--cert <file>', 'your own HTTPS certificate (PEM) for the MagicDNS name, when tailscale cert cannot give one (with --key)')
  .option('--key <file>', 'the private key of --cert (PEM, mode 600)')
  .addOption(portOption())
  .addOption(socketOption())
  .action(run(async () => (await import('./commands/serve.js')).serve))

program
  .command('setup')
  .description('prepare this machine: HANDOFF_HOME, tmux and Tailscale checks, the HTTPS certificate, auto-start at login')
  .option('--no-service', 'do not install auto-start at login (a systemd user unit on Linux, a launchd agent on macOS)')
  .option('--cert <file>', 'use your own HTTPS certificate (PEM) for the MagicDNS name from now on, instead of tailscale cert (with --key)')
  .option('--key <file>', 'the private key of --cert (PEM, mode 600)')
  .option('--tailscale-cert', 'go back to tailscale cert after --cert')
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/setup.js')).setup))

program
  .command('status')
  .description('tmux, the Handoff server and Tailscale: what is found and working')
  .addOption(portOption())
  .addOption(socketOption())
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/status.js')).status))

grantOptions(program.command('pair'))
  .description("pair a phone: it creates a passkey; you type the code it shows")
  .option('--read-write', 'it may type (the default; skips the question)')
  .addOption(portOption())
  .addOption(socketOption())
  .action(run(async () => (await import('./commands/pair.js')).pair))

const devices = program
  .command('devices')
  .description('list paired devices (subcommands change them)')
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/devices.js')).list))

grantOptions(devices.command('edit <name>'))
  .description("change a device's sessions, mode, expiry or name")
  .option('--read-write', 'it may type again')
  .option('--any-node', 'accept it from any node of its tailnet user again')
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/devices.js')).edit))

for (const [parent, name] of [[devices, 'rm'], [program, 'revoke']] as const) {
  parent
    .command(`${name} <name>`)
    .description('revoke a device: its open terminals close at once')
    .addOption(jsonOption())
    .action(run(async () => (await import('./commands/devices.js')).remove))
}

for (const parent of [devices, program]) {
  parent
    .command('renew <name>')
    .description('extend an expired or expiring device (and clear its renewal request)')
    .option('--expires <period>', 'new period from now: 1d, 7d, 30d… or never (default 30d)')
    .addOption(jsonOption())
    .action(run(async () => (await import('./commands/devices.js')).renew))
}

for (const [parent, name] of [[devices, 'log'], [program, 'logs']] as const) {
  parent
    .command(`${name} [name]`)
    .description('the audit log: every access decision, newest last')
    .option('--follow', 'keep printing new entries')
    .option('--limit <n>', 'how many entries (default 50)')
    .addOption(jsonOption())
    .action(run(async () => (await import('./commands/devices.js')).log))
}

program
  .command('unpair')
  .description('revoke every device, after confirmation')
  .option('--yes', 'do not ask')
  .action(run(async () => (await import('./commands/devices.js')).unpair))

const hooks = program
  .command('hooks')
  .description("add or remove Handoff's hooks in other tools (claude-code: Claude Code's ~/.claude/settings.json)")
for (const [name, what] of [
  ['install', "add Handoff's Notification and Stop hooks (backup first; a second run changes nothing)"],
  ['uninstall', "remove Handoff's hooks, and only those"],
] as const) {
  hooks
    .command(`${name} <target>`)
    .description(`${what}; target: claude-code`)
    .addOption(jsonOption())
    .action(run(async () => (await import('./commands/hooks.js'))[name]))
}

program
  .command('notify')
  .description('record an event for your phone (written to HANDOFF_HOME/events.jsonl; works whether or not the server runs)')
  .requiredOption('--type <type>', 'a short word: notify (waiting for you), stop (finished), error, custom…')
  .requiredOption('--message <text>', 'the text to show (control characters removed, cut at 1000 characters)')
  .option('--title <text>', 'a title (cut at 200 characters)')
  .option('--tmux-session <name>', 'the tmux session it is about (default inside tmux: this pane\'s)')
  .option('--tmux-window <index>', 'the window index in that session (default inside tmux: this pane\'s)')
  .option('--tmux-pane <id>', 'the pane an answer is typed into, such as %5 (default inside tmux: this pane, when in that tab)')
  .option('--choice <label=keys>', 'an answer the phone offers, such as "Yes=y<Enter>" or "No=<Esc>"; repeat for each (at most 6)', (value: string, previous: string[] = []) => [...previous, value])
  .option('--cwd <dir>', 'the folder it is about')
  .option('--claude-session-id <id>', 'the Claude Code session it comes from')
  .option('--source <name>', 'what sent it, e.g. claude-code or make')
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/notify.js')).notify))

const events = program.command('events').description('the event log (HANDOFF_HOME/events.jsonl)')
events
  .command('repair')
  .description('take out lines with impossible ids (kept in events.removed.jsonl) and put the id sequence right')
  .addOption(jsonOption())
  .action(run(async () => (await import('./commands/events.js')).repair))

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
