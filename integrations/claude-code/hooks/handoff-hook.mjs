#!/usr/bin/env node
// Claude Code hook: tells Handoff that Claude needs you (Notification) or has
// finished (Stop); a permission prompt's event offers its answers (Yes / Yes,
// don't ask again / No), which the phone can send back. Usage, from hooks.json
// or ~/.claude/settings.json:
//
//   node /path/to/handoff-hook.mjs notify|stop      (the hook's JSON on stdin)
//
// It runs `handoff notify` in the background and exits 0 at once, whatever
// happens: Claude must never wait for, or be blocked by, a notification.
// Hook text is only ever an argv element of a spawned process, never shell
// input. The tab comes from $TMUX_PANE, which `handoff notify` reads itself.
// No dependencies and no build step: the plugin may run from a copy of this folder.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const LIMITS = {
  stdinBytes: 1024 * 1024, // a hook input larger than this is cut off and parsed as far as it goes (so: not at all)
  stdinWaitMs: 2_000, // if Claude never closes stdin, go on without it
  messageChars: 1_000, // longer messages are cut, with an ellipsis
}

const DEFAULT_MESSAGE = { notify: 'Claude needs your attention', stop: 'Claude finished' }

/**
 * The answers of Claude Code's permission prompt ("1. Yes / 2. Yes, and
 * don't ask again … / 3. No, and tell Claude what to do differently (esc)"),
 * as `handoff notify --choice LABEL=KEYS`: a digit picks its line, Esc says no.
 */
const PERMISSION_CHOICES = ['Yes=1', "Yes, don't ask again=2", 'No=<Esc>']

/**
 * Whether the Notification is a permission prompt: Claude Code says so in
 * `notification_type`; versions before it only in the message.
 */
const isPermissionPrompt = (input) =>
  input.notification_type === undefined ? /needs your permission/i.test(str(input.message) ?? '') : input.notification_type === 'permission_prompt'

/** Leaves at once with 0, the only exit code this script has. */
const done = () => process.exit(0)
process.on('uncaughtException', done)
process.on('unhandledRejection', done)

/** stdin as text, up to the byte cap or the wait, whichever comes first. */
function readStdin() {
  return new Promise((resolve) => {
    const chunks = []
    let size = 0
    const finish = () => {
      clearTimeout(timer)
      process.stdin.removeAllListeners()
      process.stdin.destroy()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const timer = setTimeout(finish, LIMITS.stdinWaitMs)
    process.stdin.on('data', (chunk) => {
      if (size < LIMITS.stdinBytes) chunks.push(chunk.subarray(0, LIMITS.stdinBytes - size))
      size += chunk.length
      if (size >= LIMITS.stdinBytes) finish()
    })
    process.stdin.on('end', finish)
    process.stdin.on('error', finish)
  })
}

function parse(text) {
  try {
    const v = JSON.parse(text)
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {}
  } catch {
    return {}
  }
}

const str = (v) => (typeof v === 'string' && v.trim() !== '' ? v : undefined)
const cut = (s) => (s.length > LIMITS.messageChars ? `${s.slice(0, LIMITS.messageChars - 1)}…` : s)

/**
 * How to run handoff: this package's own bin with this node when the script
 * sits in the Handoff package (installed by `handoff hooks install`), else
 * `handoff` from PATH (the plugin, copied into Claude's plugin cache).
 */
function handoffCommand() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
  const bin = join(root, 'bin', 'handoff.js')
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    if (pkg?.name === 'handoff' && existsSync(bin)) return { file: process.execPath, args: [bin] }
  } catch {
    // not inside the package
  }
  return { file: 'handoff', args: [] }
}

async function main() {
  const type = process.argv[2] === 'stop' ? 'stop' : 'notify'
  const input = parse(await readStdin())
  // Stop carries no message; the transcript is deliberately not read.
  const message = cut((type === 'notify' && str(input.message)) || DEFAULT_MESSAGE[type])
  // --flag=value, so a value starting with "-" is never read as a flag.
  const args = ['notify', `--type=${type}`, `--message=${message}`, '--source=claude-code']
  const title = type === 'notify' ? str(input.title) : undefined
  if (title) args.push(`--title=${cut(title)}`)
  const cwd = str(input.cwd)
  if (cwd) args.push(`--cwd=${cwd}`)
  const session = str(input.session_id)
  if (session) args.push(`--claude-session-id=${session}`)
  if (type === 'notify' && isPermissionPrompt(input)) for (const choice of PERMISSION_CHOICES) args.push(`--choice=${choice}`)

  const { file, args: pre } = handoffCommand()
  // Detached, no stdio shared with Claude, not waited for: Claude reads our
  // output until every holder of the pipe has closed it.
  const child = spawn(file, [...pre, ...args], { detached: true, stdio: 'ignore', shell: false })
  child.on('error', done) // not installed: nothing to tell
  child.unref()
  done()
}

main().catch(done)
