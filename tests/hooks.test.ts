import { execFile, execFileSync, spawn } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HooksReport } from '../cli/commands/hooks.js'
import { CLAUDE_CHOICES } from './support/events.js'
import { StubBin, sq } from './support/stub-bin.js'
import { PrivateTmux } from './support/tmux.js'

// The built CLI, run as a user runs it (tests run after "npm run build").
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'handoff.js')
const SCRIPT = join(ROOT, 'integrations', 'claude-code', 'hooks', 'handoff-hook.mjs')

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

let home: string
const claudeDir = (): string => join(home, '.claude')
const settingsFile = (): string => join(claudeDir(), 'settings.json')
const backups = (): string[] => (existsSync(claudeDir()) ? readdirSync(claudeDir()).filter((f) => f.startsWith('settings.json.handoff-backup-')) : [])

/** `handoff hooks ...args --json` with HOME in a temp folder. */
function hooks(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, ...extraEnv }
  if (!('CLAUDE_CONFIG_DIR' in extraEnv)) delete env.CLAUDE_CONFIG_DIR // the default must follow HOME
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'hooks', ...args, '--json'], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}
const report = (r: Result): HooksReport => {
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as HooksReport
}

type Group = { matcher?: string; hooks: { type: string; command: string; timeout?: number }[] }
type Settings = { hooks?: Record<string, Group[]>; [k: string]: unknown }
const readSettings = (): Settings => JSON.parse(readFileSync(settingsFile(), 'utf8')) as Settings
const commandsOf = (s: Settings, event: string): string[] => (s.hooks?.[event] ?? []).flatMap((g) => g.hooks.map((h) => h.command))
const ours = (s: Settings, event: string): string[] => commandsOf(s, event).filter((c) => c.includes('handoff-hook.mjs'))

/** A user's settings with hooks of their own, other keys, and tab indentation. */
const USER_SETTINGS = {
  model: 'opus',
  env: { FOO: 'bar' },
  permissions: { allow: ['Bash(npm test:*)'] },
  hooks: {
    Notification: [{ hooks: [{ type: 'command', command: 'notify-send "Claude"' }] }],
    Stop: [{ matcher: '', hooks: [{ type: 'command', command: '~/bin/on-stop.sh', timeout: 5 }] }],
    PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'check-bash' }] }],
  },
  someFutureKey: [1, 2, { nested: null }],
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handoff-hooks-'))
})
// A detached `handoff notify` started by the hook may still be writing into it: retry the removal.
afterEach(() => rmSync(home, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 }))

describe('handoff hooks install claude-code', () => {
  it('creates ~/.claude/settings.json with Notification and Stop hooks that run this package with this node', async () => {
    const r = report(await hooks(['install', 'claude-code']))
    expect(r).toMatchObject({ target: 'claude-code', action: 'install', settings: settingsFile(), changed: true, backup: null })
    expect(r.events).toEqual(['Notification', 'Stop'])
    const s = readSettings()
    expect(Object.keys(s)).toEqual(['hooks'])
    const [notify] = ours(s, 'Notification')
    const [stop] = ours(s, 'Stop')
    expect(notify).toBe(`'${process.execPath}' '${SCRIPT}' notify || true`)
    expect(stop).toBe(`'${process.execPath}' '${SCRIPT}' stop || true`)
    expect(readFileSync(settingsFile(), 'utf8')).toMatch(/^\{\n {2}"hooks": \{\n/)
    expect(backups()).toEqual([])
  })

  it('is idempotent: a second install changes nothing, writes no backup and says so', async () => {
    report(await hooks(['install', 'claude-code']))
    const before = readFileSync(settingsFile())
    const r = report(await hooks(['install', 'claude-code']))
    expect(r.changed).toBe(false)
    expect(r.events).toEqual([])
    expect(r.backup).toBeNull()
    expect(readFileSync(settingsFile()).equals(before)).toBe(true)
    expect(backups()).toEqual([])
    const s = readSettings()
    expect(ours(s, 'Notification')).toHaveLength(1)
    expect(ours(s, 'Stop')).toHaveLength(1)

    const humanRun = execFileSync(process.execPath, [BIN, 'hooks', 'install', 'claude-code'], { env: { ...process.env, HOME: home, CLAUDE_CONFIG_DIR: '' }, encoding: 'utf8' })
    expect(humanRun).toContain('nothing changed')
  })

  it("keeps the user's hooks, keys and indentation, appends Handoff's after theirs, and backs up the previous file first", async () => {
    mkdirSync(claudeDir(), { recursive: true })
    const original = `${JSON.stringify(USER_SETTINGS, null, '\t')}\n`
    writeFileSync(settingsFile(), original, { mode: 0o644 })

    const r = report(await hooks(['install', 'claude-code']))
    expect(r.changed).toBe(true)
    expect(r.backup).toMatch(/settings\.json\.handoff-backup-\d{8}T\d{6}Z$/)
    expect(backups()).toHaveLength(1)
    expect(readFileSync(r.backup as string, 'utf8')).toBe(original)

    const text = readFileSync(settingsFile(), 'utf8')
    expect(text).toMatch(/^\{\n\t"model"/) // tabs kept, key order kept
    expect(lstatSync(settingsFile()).mode & 0o777).toBe(0o644)
    const s = readSettings()
    const { hooks: _h, ...rest } = s
    const { hooks: _u, ...userRest } = USER_SETTINGS
    expect(rest).toEqual(userRest)
    expect(s.hooks?.PreToolUse).toEqual(USER_SETTINGS.hooks.PreToolUse)
    expect(commandsOf(s, 'Notification')[0]).toBe('notify-send "Claude"')
    expect(s.hooks?.Stop?.[0]).toEqual(USER_SETTINGS.hooks.Stop[0])
    expect(ours(s, 'Notification')).toHaveLength(1)
    expect(ours(s, 'Stop')).toHaveLength(1)
    expect(commandsOf(s, 'Notification').at(-1)).toContain('handoff-hook.mjs')

    // Uninstall gives back exactly the user's settings, after another backup.
    const u = report(await hooks(['uninstall', 'claude-code']))
    expect(u).toMatchObject({ action: 'uninstall', changed: true, events: ['Notification', 'Stop'] })
    expect(readFileSync(u.backup as string, 'utf8')).toBe(text)
    expect(readFileSync(settingsFile(), 'utf8')).toBe(original)

    const again = report(await hooks(['uninstall', 'claude-code']))
    expect(again).toMatchObject({ changed: false, events: [], backup: null })
    expect(readFileSync(settingsFile(), 'utf8')).toBe(original)
  })

  it('uninstall removes only Handoff hooks, even when one shares a group with a hook of the user', async () => {
    mkdirSync(claudeDir(), { recursive: true })
    const mixed = {
      hooks: {
        Notification: [{ hooks: [{ type: 'command', command: 'mine' }, { type: 'command', command: "'/old/node' '/old/handoff-hook.mjs' notify" }] }],
        Stop: [{ hooks: [{ type: 'command', command: "'/old/node' '/old/handoff-hook.mjs' stop" }] }],
        SessionStart: [],
      },
    }
    writeFileSync(settingsFile(), JSON.stringify(mixed, null, 2))
    report(await hooks(['uninstall', 'claude-code']))
    const s = readSettings()
    // Our emptied Stop list goes; the user's own empty SessionStart list stays.
    expect(s.hooks).toEqual({ Notification: [{ hooks: [{ type: 'command', command: 'mine' }] }], SessionStart: [] })
  })

  it('replaces an older Handoff hook (another node or package path) instead of adding a second one', async () => {
    mkdirSync(claudeDir(), { recursive: true })
    const old = { hooks: { Stop: [{ hooks: [{ type: 'command', command: "'/old/node' '/old/pkg/handoff-hook.mjs' stop || true" }] }] } }
    writeFileSync(settingsFile(), JSON.stringify(old, null, 2))
    const r = report(await hooks(['install', 'claude-code']))
    expect(r.events).toEqual(['Notification', 'Stop'])
    const s = readSettings()
    expect(ours(s, 'Stop')).toEqual([`'${process.execPath}' '${SCRIPT}' stop || true`])
    expect(s.hooks?.Stop).toHaveLength(1)
  })

  it('refuses a malformed settings.json with a clear error and leaves it byte-for-byte unchanged', async () => {
    mkdirSync(claudeDir(), { recursive: true })
    const broken = '{\n  "model": "opus",\n  "hooks": {\n'
    for (const content of [broken, '["not", "an", "object"]', '{"hooks": []}', '{"hooks": {"Stop": {}}}']) {
      writeFileSync(settingsFile(), content)
      for (const action of ['install', 'uninstall']) {
        const r = await hooks([action, 'claude-code'])
        expect(r.code).toBe(2)
        expect(r.stdout).toBe('')
        expect(r.stderr).toContain(settingsFile())
        expect(r.stderr).toContain('left untouched')
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
        expect(readFileSync(settingsFile(), 'utf8')).toBe(content)
        expect(backups()).toEqual([])
      }
    }
    const r = await hooks(['install', 'claude-code'])
    expect(r.stderr).toContain('"hooks.Stop"')
  })

  it('writes through a symlinked settings.json (dotfile managers) and keeps the link', async () => {
    const dotfiles = join(home, 'dotfiles')
    mkdirSync(dotfiles)
    mkdirSync(claudeDir())
    writeFileSync(join(dotfiles, 'settings.json'), '{"model": "opus"}\n')
    symlinkSync(join(dotfiles, 'settings.json'), settingsFile())
    report(await hooks(['install', 'claude-code']))
    expect(lstatSync(settingsFile()).isSymbolicLink()).toBe(true)
    const s = JSON.parse(readFileSync(join(dotfiles, 'settings.json'), 'utf8')) as Settings
    expect(s.model).toBe('opus')
    expect(ours(s, 'Stop')).toHaveLength(1)
  })

  it('uses CLAUDE_CONFIG_DIR when set, and refuses an unknown target with exit 2', async () => {
    const dir = join(home, 'claude-config')
    const r = report(await hooks(['install', 'claude-code'], { CLAUDE_CONFIG_DIR: dir }))
    expect(r.settings).toBe(join(dir, 'settings.json'))
    expect(existsSync(join(dir, 'settings.json'))).toBe(true)
    expect(existsSync(settingsFile())).toBe(false)

    const bad = await hooks(['install', 'vscode'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('"vscode"')
  })
})

// ---------------------------------------------------------------- the hook script

/** Whether `handoff notify` is committed and built, so events can be checked (it is built by another change). */
function notifyLanded(): boolean {
  try {
    const tracked = execFileSync('git', ['ls-files', 'cli/commands/notify.ts'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return tracked !== '' && existsSync(join(ROOT, 'dist', 'cli', 'commands', 'notify.js'))
  } catch {
    return false
  }
}

interface Hooked {
  code: number | null
  ms: number
}

/** Runs the hook script as Claude Code would: `node script notify|stop` with the hook JSON on stdin. */
function runHook(script: string, type: 'notify' | 'stop', input: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Promise<Hooked> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    // PATH holds nothing: the script must find this package's handoff by itself.
    const child = spawn(process.execPath, [script, type], { env: { PATH: join(home, 'empty-path'), ...env }, cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('hook script did not exit within 10 s'))
    }, 10_000)
    // Claude Code waits until the hook's stdout and stderr close, not only for its exit.
    child.on('close', (code) => {
      clearTimeout(timer)
      expect(out).toBe('') // nothing for Claude to show or parse
      resolve({ code, ms: Date.now() - started })
    })
    if (input !== undefined) child.stdin.end(input)
  })
}

interface Event {
  type?: string
  message?: string
  cwd?: string
  claude_session_id?: string
  source?: string
  [k: string]: unknown
}

function events(handoffHome: string): Event[] {
  try {
    return readFileSync(join(handoffHome, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Event)
  } catch {
    return []
  }
}

describe('the Claude Code hook script', () => {
  let handoffHome: string
  let work: string
  beforeEach(() => {
    handoffHome = join(home, 'handoff-home')
    work = join(home, 'project dir')
    mkdirSync(work)
    mkdirSync(join(home, 'empty-path'))
  })

  it('exits 0 at once on a Notification and records it through handoff notify', async () => {
    const input = JSON.stringify({ session_id: 'sess-123', transcript_path: '/nowhere.jsonl', cwd: work, hook_event_name: 'Notification', message: 'Claude needs your permission to use Bash' })
    const r = await runHook(SCRIPT, 'notify', input, { HANDOFF_HOME: handoffHome }, work)
    expect(r.code).toBe(0)
    expect(r.ms).toBeLessThan(5_000)
    if (!notifyLanded()) return
    await expect.poll(() => events(handoffHome), { timeout: 10_000 }).toHaveLength(1)
    expect(events(handoffHome)[0]).toMatchObject({ type: 'notify', message: 'Claude needs your permission to use Bash', cwd: work, claude_session_id: 'sess-123', source: 'claude-code' })
  })

  it('sends "Claude finished" on Stop, without reading the transcript', async () => {
    const transcript = join(home, 'transcript.jsonl')
    writeFileSync(transcript, `${JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'SECRET' }] } })}\n`)
    const input = JSON.stringify({ session_id: 'sess-9', transcript_path: transcript, cwd: work, hook_event_name: 'Stop', stop_hook_active: false })
    const r = await runHook(SCRIPT, 'stop', input, { HANDOFF_HOME: handoffHome }, work)
    expect(r.code).toBe(0)
    if (!notifyLanded()) return
    await expect.poll(() => events(handoffHome), { timeout: 10_000 }).toHaveLength(1)
    expect(events(handoffHome)[0]).toMatchObject({ type: 'stop', message: 'Claude finished', cwd: work, claude_session_id: 'sess-9' })
  })

  it('passes quotes, $(...), backticks and newlines verbatim and never runs them', async () => {
    const marker = join(home, 'ran')
    const evil = `it's "done" $(touch '${marker}') \`touch '${marker}'\` ; touch '${marker}' | touch ran\nsecond line -- --type=stop`
    const input = JSON.stringify({ session_id: `x$(touch '${marker}')`, cwd: `${work}/$(touch '${marker}')`, message: evil, title: '`touch ran`' })
    const r = await runHook(SCRIPT, 'notify', input, { HANDOFF_HOME: handoffHome }, work)
    expect(r.code).toBe(0)
    if (notifyLanded()) {
      await expect.poll(() => events(handoffHome), { timeout: 10_000 }).toHaveLength(1)
      // notify turns line breaks into spaces (docs/notifications.md); everything else arrives as written.
      expect(events(handoffHome)[0]).toMatchObject({ type: 'notify', message: evil.replace(/\n/g, ' '), claude_session_id: `x$(touch '${marker}')` })
    } else {
      // Nothing to wait on: give the background process a moment to have done anything it would.
      await new Promise((r) => setTimeout(r, 1_500))
    }
    expect(existsSync(marker)).toBe(false)
    expect(existsSync(join(work, 'ran'))).toBe(false)
  })

  it('outside the package (the plugin copy) runs handoff from PATH with each value as one argument', async () => {
    const copy = join(home, 'plugin', 'hooks', 'handoff-hook.mjs')
    mkdirSync(join(home, 'plugin', 'hooks'), { recursive: true })
    copyFileSync(SCRIPT, copy)
    const argvFile = join(home, 'argv')
    const stubs = new StubBin()
    // Writes its arguments NUL-separated (builtins only: PATH holds the stand-in alone).
    stubs.add('handoff', `for a in "$@"; do printf '%s\\0' "$a"; done > ${sq(argvFile)}`)
    try {
      const message = `-x "q" $(no) \`no\`\nline 2`
      const input = JSON.stringify({ session_id: 's-1', cwd: work, message, title: 'Permission needed' })
      expect((await runHook(copy, 'notify', input, { PATH: stubs.dir }, work)).code).toBe(0)
      const argvOf = (): string[] => (existsSync(argvFile) ? readFileSync(argvFile, 'utf8').split('\0').slice(0, -1) : [])
      await expect.poll(() => argvOf().length, { timeout: 10_000 }).toBe(7)
      const argv = argvOf()
      expect(argv).toEqual([
        'notify',
        '--type=notify',
        `--message=${message}`,
        '--source=claude-code',
        '--title=Permission needed',
        `--cwd=${work}`,
        '--claude-session-id=s-1',
      ])
    } finally {
      stubs.remove()
    }
  })

  it("offers Claude's answers on a permission prompt, and none on other notifications", async () => {
    const copy = join(home, 'plugin', 'hooks', 'handoff-hook.mjs')
    mkdirSync(join(home, 'plugin', 'hooks'), { recursive: true })
    copyFileSync(SCRIPT, copy)
    const argvFile = join(home, 'argv')
    const stubs = new StubBin()
    // Builtins only (PATH holds the stand-in alone); the second file says the first is whole.
    stubs.add('handoff', `for a in "$@"; do printf '%s\\0' "$a"; done > ${sq(argvFile)}; : > ${sq(`${argvFile}.done`)}`)
    const choicesOf = async (input: Record<string, unknown>): Promise<string[]> => {
      rmSync(`${argvFile}.done`, { force: true })
      expect((await runHook(copy, 'notify', JSON.stringify({ session_id: 's', cwd: work, ...input }), { PATH: stubs.dir }, work)).code).toBe(0)
      await expect.poll(() => existsSync(`${argvFile}.done`), { timeout: 10_000 }).toBe(true)
      return readFileSync(argvFile, 'utf8').split('\0').filter((a) => a.startsWith('--choice'))
    }
    const claude = ['--choice=Yes=1', "--choice=Yes, don't ask again=2", '--choice=No=<Esc>']
    try {
      expect(await choicesOf({ message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' })).toEqual(claude)
      // Claude Code before notification_type: told by the message.
      expect(await choicesOf({ message: 'Claude needs your permission to use Write' })).toEqual(claude)
      expect(await choicesOf({ message: 'Claude is waiting for your input', notification_type: 'idle_prompt' })).toEqual([])
      expect(await choicesOf({ message: 'Claude needs your permission to use Bash', notification_type: 'elicitation_dialog' })).toEqual([])
      expect(await choicesOf({ message: 'Claude is waiting for your input' })).toEqual([])
    } finally {
      stubs.remove()
    }
  })

  it('records a permission prompt inside tmux with its pane and answers', async () => {
    if (!notifyLanded()) return
    const tmux = new PrivateTmux()
    try {
      tmux.newSession('claude')
      const pane = tmux.run('display-message', '-p', '-t', 'claude:0', '#{pane_id}').trim()
      const input = JSON.stringify({ session_id: 's-2', cwd: work, message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' })
      tmux.run('send-keys', '-t', 'claude:0', '-l', `printf '%s' ${sq(input)} | HANDOFF_HOME=${sq(handoffHome)} ${sq(process.execPath)} ${sq(SCRIPT)} notify`)
      tmux.run('send-keys', '-t', 'claude:0', 'Enter')
      await expect.poll(() => events(handoffHome), { timeout: 15_000 }).toHaveLength(1)
      expect(events(handoffHome)[0]).toMatchObject({
        type: 'notify',
        tmux_session: 'claude',
        tmux_window: 0,
        tmux_pane: pane,
        choices: CLAUDE_CHOICES,
      })
    } finally {
      tmux.kill()
    }
  })

  it('still exits 0 at once when handoff fails, is missing, or the input is garbage or never ends', async () => {
    // handoff fails: HANDOFF_HOME is a file.
    const file = join(home, 'not-a-folder')
    writeFileSync(file, 'x')
    expect((await runHook(SCRIPT, 'notify', '{"message":"hi"}', { HANDOFF_HOME: file }, work)).code).toBe(0)

    // Garbage and empty input.
    expect((await runHook(SCRIPT, 'notify', 'not json {', { HANDOFF_HOME: handoffHome }, work)).code).toBe(0)
    expect((await runHook(SCRIPT, 'stop', '', { HANDOFF_HOME: handoffHome }, work)).code).toBe(0)

    // stdin left open: the script stops waiting after its 2 s cap.
    const open = await runHook(SCRIPT, 'notify', undefined, { HANDOFF_HOME: handoffHome }, work)
    expect(open.code).toBe(0)
    expect(open.ms).toBeLessThan(6_000)

    // Outside the package (as in Claude's plugin cache) and no handoff on PATH.
    const copy = join(home, 'plugin', 'hooks', 'handoff-hook.mjs')
    mkdirSync(join(home, 'plugin', 'hooks'), { recursive: true })
    copyFileSync(SCRIPT, copy)
    expect((await runHook(copy, 'notify', '{"message":"hi"}', { HANDOFF_HOME: handoffHome }, work)).code).toBe(0)
  })
})
