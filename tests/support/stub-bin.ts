import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A folder of stand-in external tools (tailscale, systemctl) to put first on
 * PATH, so a test decides what they answer. Only external tools are stood in
 * for, never Handoff's own code. Scripts are /bin/sh and use builtins only, so
 * PATH may hold this folder alone ("not installed" is then real).
 */
export class StubBin {
  readonly dir = mkdtempSync(join(tmpdir(), 'handoff-stubs-'))
  /** Each stand-in appends its argv here, one line per run. */
  readonly log = join(this.dir, 'calls.log')

  /** Writes an executable `name` whose body runs after logging "name args...". */
  add(name: string, body: string): this {
    const path = join(this.dir, name)
    writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${this.log}'\n${body}\n`)
    chmodSync(path, 0o755)
    return this
  }

  /** Makes a real tool (such as tmux) visible under this PATH. */
  link(name: string, target: string): this {
    symlinkSync(target, join(this.dir, name))
    return this
  }

  /** The lines logged by stand-ins called `name`, without the name. */
  calls(name: string): string[] {
    let text = ''
    try {
      text = readFileSync(this.log, 'utf8')
    } catch {
      return []
    }
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name} `))
      .map((l) => l.slice(name.length + 1))
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Shell-quotes `s` for a stand-in's body: single quotes, with embedded ones escaped. */
export const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** `tailscale status --json` output for a running machine (ipnstate.Status, trimmed to what Handoff reads). */
export function statusJson(over: { state?: string; dnsName?: string; ips?: string[]; magicDns?: boolean; certDomains?: string[] } = {}): string {
  return JSON.stringify({
    Version: '1.80.0',
    BackendState: over.state ?? 'Running',
    TailscaleIPs: over.ips ?? ['100.101.102.103', 'fd7a:115c:a1e0::1234'],
    Self: {
      HostName: 'laptop',
      DNSName: over.dnsName ?? 'laptop.tail1234.ts.net.',
      TailscaleIPs: over.ips ?? ['fd7a:115c:a1e0::1234', '100.101.102.103'],
      Online: true,
    },
    MagicDNSSuffix: 'tail1234.ts.net',
    CurrentTailnet: { Name: 'me@example.com', MagicDNSSuffix: 'tail1234.ts.net', MagicDNSEnabled: over.magicDns ?? true },
    CertDomains: over.certDomains ?? ['laptop.tail1234.ts.net'],
  })
}
