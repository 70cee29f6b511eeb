import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access, mkdir, readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { HandoffError } from '../../server/errors.js'
import { PACKAGE_ROOT } from '../../server/paths.js'
import type { CommonFlags } from '../main.js'
import { Exit, note, render } from '../output.js'

export interface SetupFlags extends CommonFlags {
  /** false with --no-service. */
  service?: boolean
  /** Your own certificate and key (both or neither). */
  cert?: string
  key?: string
  /** Forget --cert: back to tailscale cert. */
  tailscaleCert?: boolean
}

/** ok: already as wanted; changed: this run changed it; missing/failed: needs the user (see `fix`); skipped: not attempted. */
export type StepStatus = 'ok' | 'changed' | 'missing' | 'failed' | 'skipped'

export interface SetupStep {
  step: 'home' | 'tmux' | 'tailscale' | 'certificate' | 'service'
  status: StepStatus
  detail: string
  /** The next step for the user, when there is one. */
  fix?: string
}

/** What `handoff setup --json` prints; the human view renders the same object. */
export interface SetupReport {
  home: string
  steps: SetupStep[]
  /** Whether this run changed anything; a second run in a row reports false. */
  changed: boolean
  tip: string
}

export const ITERM_TIP =
  'Tip for iTerm2 on a Mac: start tmux with "tmux -CC new -A -s main" to get native iTerm2 tabs, then open the same session on your phone with Handoff.'

const SERVICE_LABEL = 'dev.handoff.serve'
const UNIT_NAME = 'handoff.service'
const TOOL_TIMEOUT_MS = 10_000

interface Ran {
  ok: boolean
  missing: boolean
  exitCode: number | null
  stdout: string
  stderr: string
}

function run(file: string, args: readonly string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 256 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = (err as NodeJS.ErrnoException | null)?.code as string | number | undefined
      resolve({ ok: !err, missing: code === 'ENOENT', exitCode: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr })
    })
  })
}

const said = (r: Ran): string => (r.stderr || r.stdout).replace(/\s+/g, ' ').trim() || `exit ${r.exitCode ?? 'abnormal'}`

/** The first executable called `name` on PATH, as a shell would find it. */
async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      if ((await stat(candidate)).isFile()) return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Writes `content` only when the file differs; true when it wrote. */
async function writeIfChanged(path: string, content: string): Promise<boolean> {
  if ((await readText(path)) === content) return false
  const { writeFileAtomic } = await import('../../server/store/index.js')
  await mkdir(dirname(path), { recursive: true, mode: 0o755 })
  await writeFileAtomic(path, content)
  return true
}

// ---------------------------------------------------------------- checks

async function homeStep(home: string): Promise<SetupStep> {
  const { ensureHome } = await import('../../server/store/index.js')
  const { loadTokenKey, tokenKeyPath } = await import('../../server/auth/index.js')
  const { loadVapidKeys, vapidPath } = await import('../../server/events/push/index.js')
  const before = await stat(home).catch(() => undefined)
  const keysBefore = (await stat(tokenKeyPath(home)).catch(() => undefined)) && (await stat(vapidPath(home)).catch(() => undefined))
  await ensureHome(home)
  // The session-token signing key and the Web Push (VAPID) keys: created once (0600), never replaced.
  await loadTokenKey(home)
  await loadVapidKeys(home)
  const key = keysBefore ? '' : ' and its keys (token signing, Web Push; 0600)'
  if (!before) return { step: 'home', status: 'changed', detail: `created ${home} (0700)${key}` }
  if ((before.mode & 0o077) !== 0) return { step: 'home', status: 'changed', detail: `${home} was readable by others; now 0700${key}` }
  if (!keysBefore) return { step: 'home', status: 'changed', detail: `${home} (0700): created its keys (token signing, Web Push; 0600)` }
  return { step: 'home', status: 'ok', detail: `${home} (0700)` }
}

async function tmuxStep(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): Promise<SetupStep> {
  const r = await run('tmux', ['-V'], 5_000)
  if (r.ok) return { step: 'tmux', status: 'ok', detail: r.stdout.trim() }
  if (!r.missing) return { step: 'tmux', status: 'failed', detail: `tmux -V failed: ${said(r)}`, fix: 'reinstall tmux' }
  let fix: string
  if (platform === 'darwin') {
    fix = (await onPath('brew', env)) ? 'install it with: brew install tmux' : 'install Homebrew (https://brew.sh), then: brew install tmux'
  } else if (platform === 'linux' && (await onPath('apt-get', env))) {
    fix = 'install it with: sudo apt-get install tmux'
  } else {
    fix = 'install tmux with your package manager (such as: sudo dnf install tmux, or: sudo pacman -S tmux)'
  }
  return { step: 'tmux', status: 'missing', detail: 'tmux is not installed (no tmux command on PATH)', fix }
}

// ---------------------------------------------------------------- service files

/** Where the login service and its files go, from the environment (HOME, XDG_CONFIG_HOME). */
export function servicePaths(env: NodeJS.ProcessEnv = process.env): { systemdUnit: string; launchdPlist: string } {
  const home = env.HOME || homedir()
  const config = env.XDG_CONFIG_HOME || join(home, '.config')
  return {
    systemdUnit: join(config, 'systemd', 'user', UNIT_NAME),
    launchdPlist: join(home, 'Library', 'LaunchAgents', `${SERVICE_LABEL}.plist`),
  }
}

export interface ServiceSpec {
  /** Absolute path of node (process.execPath). */
  node: string
  /** Absolute path of bin/handoff.js. */
  bin: string
  /** PATH for the service: login services start with a minimal one, where Homebrew's tmux is missing. */
  path: string
  /** HANDOFF_HOME when the user set one, so the service uses the same folder. */
  handoffHome?: string | undefined
  /** Where launchd writes the server's output. */
  logFile: string
}

function noNewlines(values: readonly string[]): void {
  for (const v of values) {
    if (/[\n\r\0]/.test(v)) throw new HandoffError('BAD_CONFIG', 400, `cannot write a login service for a path with a line break: ${JSON.stringify(v)}`)
  }
}

// systemd expands %specifiers everywhere and $VARIABLES in ExecStart; quote so a path is taken as written.
const systemdWord = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`
const systemdEnv = (name: string, value: string): string => `"${name}=${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`

/** The systemd user unit `handoff setup` writes. Pure. */
export function systemdUnit(spec: ServiceSpec): string {
  noNewlines([spec.node, spec.bin, spec.path, spec.handoffHome ?? ''])
  return [
    '# Written by "handoff setup", which rewrites it only when it would change.',
    '[Unit]',
    'Description=Handoff: your tmux sessions on your phone',
    '',
    '[Service]',
    `ExecStart=${systemdWord(spec.node)} ${systemdWord(spec.bin)} serve`,
    `Environment=${systemdEnv('PATH', spec.path)}`,
    ...(spec.handoffHome ? [`Environment=${systemdEnv('HANDOFF_HOME', spec.handoffHome)}`] : []),
    'Restart=on-failure',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n')
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** The launchd agent `handoff setup` writes on macOS. Pure. */
export function launchdPlist(spec: ServiceSpec): string {
  noNewlines([spec.node, spec.bin, spec.path, spec.handoffHome ?? '', spec.logFile])
  const env = [['PATH', spec.path], ...(spec.handoffHome ? [['HANDOFF_HOME', spec.handoffHome]] : [])]
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<!-- Written by "handoff setup", which rewrites it only when it would change. -->',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key><string>${SERVICE_LABEL}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...[spec.node, spec.bin, 'serve'].map((a) => `    <string>${xml(a)}</string>`),
    '  </array>',
    '  <key>EnvironmentVariables</key>',
    '  <dict>',
    ...env.map(([k, v]) => `    <key>${k}</key><string>${xml(v ?? '')}</string>`),
    '  </dict>',
    '  <key>RunAtLoad</key><true/>',
    // Restart after a crash, not after a clean stop.
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    `  <key>StandardOutPath</key><string>${xml(spec.logFile)}</string>`,
    `  <key>StandardErrorPath</key><string>${xml(spec.logFile)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n')
}

async function serviceSpec(home: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): Promise<ServiceSpec> {
  const found = await Promise.all(['tmux', 'tailscale'].map((t) => onPath(t, env)))
  const dirs = [
    ...found.filter((p): p is string => p !== undefined).map((p) => dirname(p)),
    dirname(process.execPath),
    ...(platform === 'darwin' ? ['/opt/homebrew/bin'] : []),
    '/usr/local/bin',
    '/usr/bin',
    '/bin',
  ]
  return {
    node: process.execPath,
    bin: join(PACKAGE_ROOT, 'bin', 'handoff.js'),
    path: [...new Set(dirs)].join(':'),
    handoffHome: env.HANDOFF_HOME || undefined,
    logFile: join(home, 'serve.log'),
  }
}

// `systemctl --user` cannot reach a user manager: no login session, no lingering, a container.
const NO_USER_MANAGER = /failed to connect to bus|DBUS_SESSION_BUS_ADDRESS|XDG_RUNTIME_DIR|not been booted with systemd|no medium found|user instance/i

async function systemdStep(spec: ServiceSpec, env: NodeJS.ProcessEnv): Promise<SetupStep> {
  const { systemdUnit: unitPath } = servicePaths(env)
  if (!(await onPath('systemctl', env))) {
    return {
      step: 'service',
      status: 'skipped',
      detail: 'systemctl not found: this system does not use systemd, so Handoff cannot start itself at login',
      fix: 'start it yourself with: handoff serve (or rerun with --no-service to silence this)',
    }
  }
  const wrote = await writeIfChanged(unitPath, systemdUnit(spec))
  const done: string[] = [wrote ? `wrote ${unitPath}` : `left ${unitPath} unchanged`]
  const unavailable = (r: Ran): SetupStep => ({
    step: 'service',
    status: 'failed',
    detail: `${done.join('; ')}; but the systemd user instance is not available (systemctl --user: ${said(r)})`,
    fix: 'log in to this machine normally, or keep a user manager running with: loginctl enable-linger $USER, then run: handoff setup (meanwhile: handoff serve)',
  })
  const systemctl = async (...args: string[]): Promise<Ran> => run('systemctl', ['--user', ...args])

  if (wrote) {
    const r = await systemctl('daemon-reload')
    if (!r.ok) return NO_USER_MANAGER.test(said(r)) || r.missing ? unavailable(r) : failedStep(done, 'systemctl --user daemon-reload', r)
  }
  const enabled = await systemctl('is-enabled', UNIT_NAME)
  if (!enabled.ok && NO_USER_MANAGER.test(said(enabled))) return unavailable(enabled)
  const active = await systemctl('is-active', UNIT_NAME)
  const isEnabled = enabled.ok && enabled.stdout.trim() === 'enabled'
  const isActive = active.ok && active.stdout.trim() === 'active'
  if (!isEnabled || !isActive) {
    const r = await systemctl('enable', '--now', UNIT_NAME)
    if (!r.ok) return NO_USER_MANAGER.test(said(r)) ? unavailable(r) : failedStep(done, `systemctl --user enable --now ${UNIT_NAME}`, r)
    done.push('enabled and started it')
  } else if (wrote) {
    const r = await systemctl('restart', UNIT_NAME)
    if (!r.ok) return failedStep(done, `systemctl --user restart ${UNIT_NAME}`, r)
    done.push('restarted it with the new settings')
  } else {
    done.push('enabled and running')
  }
  return { step: 'service', status: wrote || !isEnabled || !isActive ? 'changed' : 'ok', detail: done.join('; ') }
}

function failedStep(done: readonly string[], command: string, r: Ran): SetupStep {
  return { step: 'service', status: 'failed', detail: `${done.join('; ')}; but ${command} failed: ${said(r)}`, fix: `fix what it says, then run: handoff setup (meanwhile: handoff serve)` }
}

async function launchdStep(spec: ServiceSpec, env: NodeJS.ProcessEnv): Promise<SetupStep> {
  const { launchdPlist: plistPath } = servicePaths(env)
  const wrote = await writeIfChanged(plistPath, launchdPlist(spec))
  const done: string[] = [wrote ? `wrote ${plistPath}` : `left ${plistPath} unchanged`]
  const domain = `gui/${process.getuid?.() ?? 501}`
  const loaded = (await run('launchctl', ['print', `${domain}/${SERVICE_LABEL}`])).ok
  if (loaded && !wrote) return { step: 'service', status: 'ok', detail: `${done[0]}; loaded` }
  if (loaded) await run('launchctl', ['bootout', `${domain}/${SERVICE_LABEL}`])
  const r = await run('launchctl', ['bootstrap', domain, plistPath])
  if (!r.ok) {
    return {
      step: 'service',
      status: 'failed',
      detail: `${done.join('; ')}; but launchctl bootstrap ${domain} failed: ${said(r)}`,
      fix: `load it yourself with: launchctl bootstrap ${domain} ${plistPath} (meanwhile: handoff serve)`,
    }
  }
  done.push(loaded ? 'reloaded it with the new settings' : 'loaded it (starts now and at every login)')
  return { step: 'service', status: 'changed', detail: done.join('; ') }
}

// ---------------------------------------------------------------- the certificate

/**
 * The HTTPS certificate: the user's own (`--cert`, `--key`, checked, then
 * recorded for `handoff serve`; or the one recorded before), else
 * `tailscale cert`'s. `--tailscale-cert` forgets the user's.
 */
async function certificateStep(home: string, dnsName: string, flags: SetupFlags, platform: NodeJS.Platform): Promise<SetupStep> {
  const net = await import('../../server/net/index.js')
  const given = net.ownCertificateFromFlags(flags)
  if (flags.tailscaleCert) {
    if (given) return { step: 'certificate', status: 'failed', detail: '--tailscale-cert and --cert ask for different certificates', fix: 'give one of them' }
    await net.saveOwnCertificateChoice(home, undefined)
  }
  const own = given ?? (flags.tailscaleCert ? undefined : await net.readOwnCertificateChoice(home))
  if (own) {
    const check = await net.checkOwnCertificate(own, dnsName)
    if (!check.ok) return { step: 'certificate', status: 'failed', detail: check.message, fix: check.fix }
    if (given) await net.saveOwnCertificateChoice(home, given)
    const until = check.notAfter.toISOString().slice(0, 10)
    return { step: 'certificate', status: given ? 'changed' : 'ok', detail: `your own ${own.certPath}, valid until ${until}; handoff serve reloads it when it changes` }
  }
  note(`getting the HTTPS certificate for ${dnsName} (a new one can take a minute)...`)
  const cert = await net.ensureCertificate(home, dnsName, Date.now(), platform)
  return cert.ok
    ? { step: 'certificate', status: cert.renewed ? 'changed' : 'ok', detail: `${cert.renewed ? 'wrote' : 'left'} ${cert.certPath}, valid until ${cert.notAfter.toISOString().slice(0, 10)}` }
    : { step: 'certificate', status: 'failed', detail: cert.message, fix: cert.fix }
}

// ---------------------------------------------------------------- the command

const human = (r: SetupReport): string => {
  const lines = r.steps.flatMap((s) => [`${s.status.padEnd(8)} ${s.step.padEnd(12)}${s.detail}`, ...(s.fix ? [`${''.padEnd(21)}to fix: ${s.fix}`] : [])])
  const todo = r.steps.some((s) => s.status === 'missing' || s.status === 'failed')
  lines.push('', todo ? 'Some steps need you (see "to fix"); run handoff setup again afterwards.' : r.changed ? 'Set up.' : 'Nothing changed: already set up.')
  lines.push('', r.tip, '')
  return lines.join('\n')
}

/**
 * `handoff setup [--no-service] [--cert FILE --key FILE | --tailscale-cert] [--json]`:
 * makes HANDOFF_HOME, checks tmux and Tailscale, gets the HTTPS certificate
 * (or checks and records your own), and installs auto-start at login.
 * Every step says what it changed or what is missing; running it twice changes
 * nothing. Exits 1 when a step needs the user, else 0.
 */
export async function setup(flags: SetupFlags): Promise<void> {
  const env = process.env
  const platform = process.platform
  const { defaultHome } = await import('../../server/store/index.js')
  const { findTailnetIdentity } = await import('../../server/net/index.js')
  const home = defaultHome(env)

  const steps: SetupStep[] = [await homeStep(home), await tmuxStep(env, platform)]

  const id = await findTailnetIdentity(platform)
  if (id.ok) {
    steps.push({ step: 'tailscale', status: 'ok', detail: `${id.dnsName} (${id.addresses.join(', ')})` })
    steps.push(await certificateStep(home, id.dnsName, flags, platform))
  } else {
    steps.push({ step: 'tailscale', status: 'missing', detail: id.message, fix: id.fix })
    steps.push({ step: 'certificate', status: 'skipped', detail: 'needs Tailscale with MagicDNS; Handoff serves on this machine only (loopback) until then' })
  }

  if (flags.service === false) {
    steps.push({ step: 'service', status: 'skipped', detail: '--no-service: not starting Handoff at login' })
  } else {
    const spec = await serviceSpec(home, env, platform)
    if (platform === 'linux') steps.push(await systemdStep(spec, env))
    else if (platform === 'darwin') steps.push(await launchdStep(spec, env))
    else steps.push({ step: 'service', status: 'skipped', detail: `auto-start at login is not supported on ${platform}`, fix: 'start Handoff yourself with: handoff serve' })
  }

  const report: SetupReport = { home, steps, changed: steps.some((s) => s.status === 'changed'), tip: ITERM_TIP }
  render(report, flags.json, human)
  if (steps.some((s) => s.status === 'missing' || s.status === 'failed')) process.exitCode = Exit.Failure
}
