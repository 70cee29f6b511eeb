import { execFile, execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { launchdPlist, systemdUnit, type SetupReport } from '../cli/commands/setup.js'
import { StubBin, sq, statusJson } from './support/stub-bin.js'

// The built CLI, run as a user runs it (tests run after "npm run build").
const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))
const NAME = 'laptop.tail1234.ts.net'
const fixture = (file: string): string => fileURLToPath(new URL(`../server/net/fixtures/${file}`, import.meta.url))

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

let stubs: StubBin
let home: string

const handoffHome = (): string => join(home, '.handoff')
const unitPath = (): string => join(home, 'xdg-config', 'systemd', 'user', 'handoff.service')
const mode = (p: string): number => statSync(p).mode & 0o777

/** `handoff setup ...args` with HOME and XDG_CONFIG_HOME in a temp folder and PATH = the stand-ins alone. */
function setup(args: string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'xdg-config'), PATH: stubs.dir }
  delete env.HANDOFF_HOME // the default, ~/.handoff, must follow HOME
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'setup', ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}

const report = (r: Result): SetupReport => JSON.parse(r.stdout) as SetupReport
const statusOf = (r: SetupReport): Record<string, string> => Object.fromEntries(r.steps.map((s) => [s.step, s.status]))

/** tailscale that is up, with MagicDNS and HTTPS: `cert` writes the test-only certificate valid until 2125. */
function tailscaleUp(): void {
  stubs.add(
    'tailscale',
    [
      'case "$1" in',
      `  status) printf '%s\\n' ${sq(statusJson())};;`,
      '  cert)',
      `    while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < ${sq(fixture('test-only-laptop-2125.crt'))} > "$3"`,
      `    while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < ${sq(fixture('test-only-laptop-2125.key'))} > "$5";;`,
      '  *) exit 2;;',
      'esac',
    ].join('\n'),
  )
}

/** systemctl that keeps one unit's enabled/active state in a file, as the real user manager would. */
function systemctlWorking(): void {
  const state = join(stubs.dir, 'handoff.enabled')
  stubs.add(
    'systemctl',
    [
      'case "$*" in',
      `  "--user is-enabled handoff.service") if [ -e ${sq(state)} ]; then echo enabled; else echo disabled; exit 1; fi;;`,
      `  "--user is-active handoff.service") if [ -e ${sq(state)} ]; then echo active; else echo inactive; exit 3; fi;;`,
      `  "--user enable --now handoff.service") : > ${sq(state)};;`,
      '  "--user daemon-reload"|"--user restart handoff.service") ;;',
      '  *) echo "unexpected: $*" >&2; exit 1;;',
      'esac',
    ].join('\n'),
  )
}

beforeEach(() => {
  stubs = new StubBin()
  home = mkdtempSync(join(tmpdir(), 'handoff-setup-'))
  // The real tmux, found on the test's own PATH (the tests need it, as the others do).
  const tmux = execFileSync('sh', ['-c', 'command -v tmux || true'], { encoding: 'utf8' }).trim()
  if (tmux) stubs.link('tmux', tmux)
})

afterEach(() => {
  stubs.remove()
  rmSync(home, { recursive: true, force: true })
})

describe('handoff setup', () => {
  it('without Tailscale: makes HANDOFF_HOME 0700, says what is missing and how to get it, exits 1', async () => {
    const r = await setup(['--no-service'])
    expect(r.code).toBe(1)
    expect(mode(handoffHome())).toBe(0o700)
    expect(r.stdout).toContain('Tailscale is not installed')
    expect(r.stdout).toContain('curl -fsSL https://tailscale.com/install.sh | sh')
    expect(r.stdout).toContain('tmux -CC new -A -s main')
    expect(stubs.calls('systemctl')).toEqual([])

    const again = report(await setup(['--no-service', '--json']))
    expect(again.changed).toBe(false)
    expect(statusOf(again)).toEqual({ home: 'ok', tmux: 'ok', tailscale: 'missing', certificate: 'skipped', service: 'skipped' })
  })

  it('says how to install tmux when it is missing', async () => {
    rmSync(join(stubs.dir, 'tmux'), { force: true })
    stubs.add('apt-get', 'exit 0')
    const r = report(await setup(['--no-service', '--json']))
    const tmux = r.steps.find((s) => s.step === 'tmux')
    expect(tmux).toMatchObject({ status: 'missing', fix: 'install it with: sudo apt-get install tmux' })
  })

  it('with Tailscale and a user systemd: certificate and unit, then a second run changes nothing', async () => {
    tailscaleUp()
    systemctlWorking()
    const first = await setup(['--json'])
    expect(first.stderr).not.toContain('unexpected')
    expect(first.code).toBe(0)
    expect(statusOf(report(first))).toEqual({ home: 'changed', tmux: 'ok', tailscale: 'ok', certificate: 'changed', service: 'changed' })
    expect(report(first).changed).toBe(true)

    expect(mode(handoffHome())).toBe(0o700)
    expect(mode(join(handoffHome(), 'tls'))).toBe(0o700)
    expect(mode(join(handoffHome(), 'tls', `${NAME}.key`))).toBe(0o600)
    expect(mode(join(handoffHome(), 'tls', `${NAME}.crt`))).toBe(0o644)

    const unit = readFileSync(unitPath(), 'utf8')
    expect(unit).toContain(`ExecStart="${process.execPath}" "${fileURLToPath(new URL('../bin/handoff.js', import.meta.url))}" serve`)
    expect(unit).toContain('Restart=on-failure')
    expect(unit).toContain('WantedBy=default.target')
    expect(stubs.calls('systemctl')).toEqual(['--user daemon-reload', '--user is-enabled handoff.service', '--user is-active handoff.service', '--user enable --now handoff.service'])
    const unitWritten = statSync(unitPath()).mtimeMs
    const tailscaleCalls = stubs.calls('tailscale').length

    const second = await setup([])
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('Nothing changed')
    expect(second.stdout).toContain(`left ${unitPath()} unchanged`)
    const secondJson = report(await setup(['--json']))
    expect(secondJson.changed).toBe(false)
    expect(statusOf(secondJson)).toEqual({ home: 'ok', tmux: 'ok', tailscale: 'ok', certificate: 'ok', service: 'ok' })
    expect(statSync(unitPath()).mtimeMs).toBe(unitWritten)
    // Later runs only look: no reload, no enable, no new certificate.
    expect(stubs.calls('systemctl').slice(4).every((c) => c.startsWith('--user is-'))).toBe(true)
    expect(stubs.calls('tailscale').slice(tailscaleCalls).every((c) => c.startsWith('status'))).toBe(true)
  })

  it('reports a missing systemd user instance clearly and still does the rest', async () => {
    tailscaleUp()
    stubs.add('systemctl', "printf '%s\\n' 'Failed to connect to bus: No medium found' >&2; exit 1")
    const r = await setup([])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('systemd user instance is not available')
    expect(r.stdout).toContain('loginctl enable-linger')
    expect(existsSync(unitPath())).toBe(true)
    expect(existsSync(join(handoffHome(), 'tls', `${NAME}.crt`))).toBe(true)
  })

  it('--cert and --key: checks your own certificate, records it for serve, keeps it on later runs, and --tailscale-cert goes back', async () => {
    tailscaleUp()
    const own = join(home, 'own')
    mkdirSync(own)
    const files = (year: '2125' | '2020') => {
      copyFileSync(fixture(`test-only-laptop-${year}.crt`), join(own, `${year}.crt`))
      copyFileSync(fixture(`test-only-laptop-${year}.key`), join(own, `${year}.key`))
      chmodSync(join(own, `${year}.key`), 0o600)
      return ['--cert', join(own, `${year}.crt`), '--key', join(own, `${year}.key`)]
    }
    const certificateStep = (r: Result) => report(r).steps.find((s) => s.step === 'certificate')

    // An expired one is refused with the fix, and nothing is recorded.
    const expired = await setup(['--no-service', '--json', ...files('2020')])
    expect(expired.code).toBe(1)
    expect(certificateStep(expired)).toMatchObject({ status: 'failed', detail: expect.stringMatching(/expired on 2020/), fix: `renew it for ${NAME}` })
    expect(existsSync(join(handoffHome(), 'certificate.json'))).toBe(false)

    const first = await setup(['--no-service', '--json', ...files('2125')])
    expect(first.code).toBe(0)
    expect(certificateStep(first)).toMatchObject({ status: 'changed', detail: expect.stringContaining(`your own ${join(own, '2125.crt')}, valid until 2125-01-01`) })
    expect(JSON.parse(readFileSync(join(handoffHome(), 'certificate.json'), 'utf8'))).toEqual({ cert: join(own, '2125.crt'), key: join(own, '2125.key') })
    expect(mode(join(handoffHome(), 'certificate.json'))).toBe(0o600)
    expect(stubs.calls('tailscale').some((c) => c.startsWith('cert'))).toBe(false)

    // Later runs check the recorded one; a key others can read fails them with the chmod.
    expect(certificateStep(await setup(['--no-service', '--json']))).toMatchObject({ status: 'ok' })
    chmodSync(join(own, '2125.key'), 0o644)
    expect(certificateStep(await setup(['--no-service', '--json']))).toMatchObject({ status: 'failed', fix: `make it private: chmod 600 ${join(own, '2125.key')}` })

    const back = await setup(['--no-service', '--json', '--tailscale-cert'])
    expect(certificateStep(back)).toMatchObject({ status: 'changed', detail: expect.stringContaining(join(handoffHome(), 'tls', `${NAME}.crt`)) })
    expect(existsSync(join(handoffHome(), 'certificate.json'))).toBe(false)

    const both = await setup(['--no-service', '--json', '--tailscale-cert', ...files('2125')])
    expect(certificateStep(both)).toMatchObject({ status: 'failed', fix: 'give one of them' })
    const half = await setup(['--no-service', '--cert', join(own, '2125.crt')])
    expect(half.code).toBe(2) // a usage error
    expect(half.stderr).toContain('--cert and --key go together')
  })

  it('--no-service installs nothing at login', async () => {
    tailscaleUp()
    systemctlWorking()
    const r = report(await setup(['--no-service', '--json']))
    expect(statusOf(r).service).toBe('skipped')
    expect(existsSync(unitPath())).toBe(false)
    expect(stubs.calls('systemctl')).toEqual([])
  })
})

describe('login service files', () => {
  const spec = {
    node: '/opt/my node/bin/node',
    bin: '/home/me/100%/handoff/bin/handoff.js',
    path: '/opt/homebrew/bin:/usr/bin:/bin',
    handoffHome: '/home/me/.handoff',
    logFile: '/home/me/.handoff/serve.log',
  }

  it('quotes paths in the systemd unit so spaces, % and $ are taken as written', () => {
    const unit = systemdUnit({ ...spec, node: '/opt/my $node/bin/node' })
    expect(unit).toContain('ExecStart="/opt/my $$node/bin/node" "/home/me/100%%/handoff/bin/handoff.js" serve')
    expect(unit).toContain('Environment="HANDOFF_HOME=/home/me/.handoff"')
  })

  it('writes a launchd agent that runs serve at login and restarts it after a crash', () => {
    const plist = launchdPlist({ ...spec, bin: '/Users/me/a&b/bin/handoff.js' })
    expect(plist).toContain('<key>Label</key><string>dev.handoff.serve</string>')
    expect(plist).toContain('<string>/Users/me/a&amp;b/bin/handoff.js</string>')
    expect(plist).toContain('<string>serve</string>')
    expect(plist).toContain('<key>RunAtLoad</key><true/>')
    expect(plist).toContain('<key>SuccessfulExit</key><false/>')
  })

  it('refuses a path with a line break', () => {
    expect(() => systemdUnit({ ...spec, bin: '/tmp/x\nExecStartPre=/bin/evil' })).toThrow(/line break/)
  })
})
