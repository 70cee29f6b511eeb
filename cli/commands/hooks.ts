import { copyFile, chmod, mkdir, readFile, realpath, stat } from 'node:fs/promises'
import { constants } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { HandoffError } from '../../server/errors.js'
import { PACKAGE_ROOT } from '../../server/paths.js'
import type { CommonFlags } from '../main.js'
import { render } from '../output.js'

/** The Claude Code events Handoff hooks, and the `handoff notify --type` each one sends. */
export const HOOK_EVENTS = { Notification: 'notify', Stop: 'stop' } as const
export type HookEvent = keyof typeof HOOK_EVENTS

/** The hook script, shared by the plugin (integrations/claude-code) and `handoff hooks install`. */
export const HOOK_SCRIPT = join(PACKAGE_ROOT, 'integrations', 'claude-code', 'hooks', 'handoff-hook.mjs')

/** A hook whose command contains this is Handoff's; anything else is left alone. */
export const HOOK_MARKER = 'handoff-hook.mjs'

/** Seconds Claude Code gives the hook; the script exits at once, this only bounds a wedged node. */
const HOOK_TIMEOUT_S = 10

const TARGETS = ['claude-code'] as const

/** What `handoff hooks install|uninstall --json` prints; the human view renders the same object. */
export interface HooksReport {
  target: 'claude-code'
  action: 'install' | 'uninstall'
  /** The settings file read and, when `changed`, rewritten. */
  settings: string
  /** false when the file already was as wanted: nothing was written, no backup made. */
  changed: boolean
  /** The events whose hooks this run added, replaced or removed. */
  events: HookEvent[]
  /** The copy of the previous file, written before the change; null when nothing changed or there was no file. */
  backup: string | null
  /** install only: the command each event runs. */
  commands?: Record<HookEvent, string>
}

type Json = Record<string, unknown>

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The shell command Claude Code runs for `event`: this node and this package's
 * script, so it works without `handoff` on PATH. `|| true`: even a node or
 * script that has since disappeared must not report a failed hook.
 */
export const hookCommand = (event: HookEvent, node: string = process.execPath, script: string = HOOK_SCRIPT): string =>
  `${sq(node)} ${sq(script)} ${HOOK_EVENTS[event]} || true`

/** `$CLAUDE_CONFIG_DIR/settings.json`, or `~/.claude/settings.json` (HOME first, as Claude Code does). */
export const claudeSettingsPath = (env: NodeJS.ProcessEnv = process.env): string =>
  join(env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude'), 'settings.json')

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

const isOurs = (hook: unknown): boolean =>
  isObject(hook) && typeof hook.command === 'string' && hook.command.includes(HOOK_MARKER)

/** The `hooks` object of a settings file, refusing shapes Claude Code would not read either. */
function hooksOf(settings: Json, path: string): Json | undefined {
  const hooks = settings.hooks
  if (hooks === undefined) return undefined
  if (!isObject(hooks)) throw new HandoffError('BAD_CONFIG', 400, `"hooks" in ${path} is not an object; fix it by hand (it was left untouched)`)
  for (const event of Object.keys(HOOK_EVENTS)) {
    if (hooks[event] !== undefined && !Array.isArray(hooks[event])) {
      throw new HandoffError('BAD_CONFIG', 400, `"hooks.${event}" in ${path} is not an array; fix it by hand (it was left untouched)`)
    }
  }
  return hooks
}

/** The event's matcher groups without Handoff's hooks; groups left empty by that are dropped, others kept as they were. */
function withoutOurs(groups: readonly unknown[]): { groups: unknown[]; removed: number } {
  let removed = 0
  const kept: unknown[] = []
  for (const group of groups) {
    if (!isObject(group) || !Array.isArray(group.hooks) || !group.hooks.some(isOurs)) {
      kept.push(group)
      continue
    }
    const rest = group.hooks.filter((h) => !isOurs(h))
    removed += group.hooks.length - rest.length
    if (rest.length > 0) kept.push({ ...group, hooks: rest })
  }
  return { groups: kept, removed }
}

const oursIn = (groups: readonly unknown[]): unknown[] =>
  groups.flatMap((g) => (isObject(g) && Array.isArray(g.hooks) ? g.hooks.filter(isOurs) : []))

/**
 * Adds Handoff's hooks to a parsed settings file, after the user's own. Pure:
 * returns a new object. An event that already has exactly our command is left
 * as it is; an older Handoff hook (another node or package path) is replaced.
 */
export function addHooks(settings: Json, commands: Record<HookEvent, string>, path = 'settings.json'): { settings: Json; events: HookEvent[] } {
  const hooks = { ...(hooksOf(settings, path) ?? {}) }
  const events: HookEvent[] = []
  for (const event of Object.keys(HOOK_EVENTS) as HookEvent[]) {
    const groups = (hooks[event] as unknown[] | undefined) ?? []
    const ours = oursIn(groups)
    if (ours.length === 1 && isObject(ours[0]) && ours[0].command === commands[event]) continue
    hooks[event] = [...withoutOurs(groups).groups, { hooks: [{ type: 'command', command: commands[event], timeout: HOOK_TIMEOUT_S }] }]
    events.push(event)
  }
  return { settings: events.length > 0 ? { ...settings, hooks } : settings, events }
}

/** Removes Handoff's hooks (and only them) from a parsed settings file. Pure: returns a new object. */
export function removeHooks(settings: Json, path = 'settings.json'): { settings: Json; events: HookEvent[] } {
  const found = hooksOf(settings, path)
  if (!found) return { settings, events: [] }
  const hooks = { ...found }
  const events: HookEvent[] = []
  for (const event of Object.keys(HOOK_EVENTS) as HookEvent[]) {
    const groups = hooks[event] as unknown[] | undefined
    if (!groups) continue
    const { groups: kept, removed } = withoutOurs(groups)
    if (removed === 0) continue
    events.push(event)
    // An event list we emptied goes, as does a hooks object we emptied; the user's empty ones stay.
    if (kept.length > 0) hooks[event] = kept
    else delete hooks[event]
  }
  if (events.length === 0) return { settings, events }
  const next: Json = { ...settings, hooks }
  if (Object.keys(hooks).length === 0) delete next.hooks
  return { settings: next, events }
}

/** The indentation the file already uses (a tab or N spaces), 2 spaces for a new file. */
function indentOf(text: string | undefined): string {
  const m = text && /\n([ \t]+)"/.exec(text)
  return m?.[1] ?? '  '
}

interface Loaded {
  path: string
  /** The file's bytes, undefined when it does not exist. */
  text: string | undefined
  settings: Json
}

async function load(path: string): Promise<Loaded> {
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw new HandoffError('BAD_CONFIG', 400, `cannot read ${path} (${code ?? String(err)}); check its permissions`)
  }
  if (text === undefined || text.trim() === '') return { path, text, settings: {} }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new HandoffError('BAD_CONFIG', 400, `${path} is not valid JSON (${why}); fix it by hand, then run this again (it was left untouched)`)
  }
  if (!isObject(parsed)) throw new HandoffError('BAD_CONFIG', 400, `${path} is not a JSON object; fix it by hand, then run this again (it was left untouched)`)
  return { path, text, settings: parsed }
}

const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')

/** Copies the current file beside itself as settings.json.handoff-backup-<UTC time>, never over an older backup. */
async function backup(path: string): Promise<string> {
  const base = `${path}.handoff-backup-${stamp(new Date())}`
  for (let n = 0; ; n++) {
    const target = n === 0 ? base : `${base}-${n}`
    try {
      await copyFile(path, target, constants.COPYFILE_EXCL)
      await chmod(target, 0o600) // settings can hold API keys in "env"
      return target
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 100) throw err
    }
  }
}

/** Backs up, then writes atomically to the file itself (through a symlink, as dotfile managers use), keeping its mode. */
async function save(loaded: Loaded, settings: Json): Promise<string | null> {
  const { writeFileAtomic } = await import('../../server/store/index.js')
  const indent = indentOf(loaded.text)
  const eol = loaded.text === undefined || loaded.text.endsWith('\n') ? '\n' : ''
  const content = `${JSON.stringify(settings, null, indent)}${eol}`
  if (loaded.text === undefined) {
    await mkdir(dirname(loaded.path), { recursive: true, mode: 0o700 })
    await writeFileAtomic(loaded.path, content)
    return null
  }
  const saved = await backup(loaded.path)
  const real = await realpath(loaded.path)
  const { mode } = await stat(real)
  await writeFileAtomic(real, content)
  await chmod(real, mode & 0o777)
  return saved
}

function target(raw: string | undefined): 'claude-code' {
  if (raw === 'claude-code') return raw
  throw new HandoffError('BAD_CONFIG', 400, `unknown integration "${raw ?? ''}"; the one there is: ${TARGETS.join(', ')}`)
}

const list = (events: readonly string[]): string => events.join(' and ')

function human(r: HooksReport): string {
  const lines: string[] = []
  if (!r.changed) {
    lines.push(r.action === 'install'
      ? `Handoff's Claude Code hooks are already in ${r.settings}; nothing changed.`
      : `No Handoff hooks in ${r.settings}; nothing changed.`)
  } else {
    lines.push(r.action === 'install'
      ? `Added Handoff's Claude Code hooks (${list(r.events)}) to ${r.settings}.`
      : `Removed Handoff's Claude Code hooks (${list(r.events)}) from ${r.settings}.`)
    if (r.backup) lines.push(`The previous file is saved as ${r.backup}.`)
    lines.push('Claude Code reads hooks when it starts: restart open Claude Code sessions.')
  }
  return `${lines.join('\n')}\n`
}

/** `handoff hooks install claude-code`: merges Handoff's Notification and Stop hooks into Claude Code's user settings. */
export async function install(flags: CommonFlags, raw?: string): Promise<void> {
  const t = target(raw)
  try {
    await stat(HOOK_SCRIPT)
  } catch {
    throw new HandoffError('BAD_CONFIG', 400, `the hook script ${HOOK_SCRIPT} is missing from this Handoff install; reinstall Handoff`)
  }
  const loaded = await load(claudeSettingsPath())
  const commands = { Notification: hookCommand('Notification'), Stop: hookCommand('Stop') }
  const { settings, events } = addHooks(loaded.settings, commands, loaded.path)
  const backupPath = events.length > 0 ? await save(loaded, settings) : null
  render<HooksReport>(
    { target: t, action: 'install', settings: loaded.path, changed: events.length > 0, events, backup: backupPath, commands },
    flags.json,
    human,
  )
}

/** `handoff hooks uninstall claude-code`: removes Handoff's hooks, and nothing else, from Claude Code's user settings. */
export async function uninstall(flags: CommonFlags, raw?: string): Promise<void> {
  const t = target(raw)
  const loaded = await load(claudeSettingsPath())
  const { settings, events } = removeHooks(loaded.settings, loaded.path)
  const backupPath = events.length > 0 ? await save(loaded, settings) : null
  render<HooksReport>({ target: t, action: 'uninstall', settings: loaded.path, changed: events.length > 0, events, backup: backupPath }, flags.json, human)
}
