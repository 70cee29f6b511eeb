import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HandoffError } from '../server/errors.js'
import { loadTokenKey } from '../server/auth/index.js'
import { appendEvent } from '../server/events/index.js'
import { loadVapidKeys, readSubscriptions } from '../server/events/push/index.js'
import { appendAudit, ensureHome, readAudit, readDevices, updateDevices, writeFileAtomic } from '../server/store/index.js'

// Every file under HANDOFF_HOME is opened without following links: a link
// planted in its place (or a folder, or another user's file) is refused with
// BAD_STATE, and what the link points at is never read or written.

let home: string
let outside: string
let victim: string
const VICTIM_TEXT = 'not for handoff\n'

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handoff-state-'))
  outside = mkdtempSync(join(tmpdir(), 'handoff-outside-'))
  victim = join(outside, 'victim')
  writeFileSync(victim, VICTIM_TEXT)
})
afterEach(() => {
  rmSync(home, { recursive: true, force: true })
  rmSync(outside, { recursive: true, force: true })
})

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p
    return 'resolved'
  } catch (err) {
    return err instanceof HandoffError ? err.code : `${(err as Error).name}: ${(err as Error).message}`
  }
}

const audit = () =>
  appendAudit(home, { deviceId: 'd', deviceName: 'n', action: 'list', target: null, result: 'allow', reason: null, peer: null, node: null })

/** Each state file and the calls that read or write it. */
const USES: [file: string, uses: (() => Promise<unknown>)[]][] = [
  ['devices.json', [() => readDevices(home), () => updateDevices(home, (d) => d)]],
  // appendAudit refuses new access with AUDIT_UNAVAILABLE, saying why (tested below).
  ['audit.jsonl', [() => readAudit(home, {})]],
  ['events.jsonl', [() => appendEvent(home, { type: 'stop', message: 'hi' })]],
  ['events.seq', [() => appendEvent(home, { type: 'stop', message: 'hi' })]],
  ['push.json', [() => readSubscriptions(home)]],
  ['token.key', [() => loadTokenKey(home)]],
  ['vapid.json', [() => loadVapidKeys(home)]],
  ['server.json', [() => writeFileAtomic(join(home, 'server.json'), '{}\n')]],
]

describe('state files', () => {
  for (const [file, uses] of USES) {
    it(`refuses ${file} when it is a link, and leaves what it points at alone`, async () => {
      symlinkSync(victim, join(home, file))
      for (const use of uses) expect(await codeOf(use())).toBe('BAD_STATE')
      expect(readFileSync(victim, 'utf8')).toBe(VICTIM_TEXT)
    })

    it(`refuses ${file} when it is a folder`, async () => {
      mkdirSync(join(home, file))
      for (const use of uses) expect(await codeOf(use())).toBe('BAD_STATE')
    })
  }

  it('refuses new access when the audit log is a link, naming the file and the fix', async () => {
    symlinkSync(victim, join(home, 'audit.jsonl'))
    const err = (await audit().catch((e: unknown) => e)) as HandoffError
    expect(err.code).toBe('AUDIT_UNAVAILABLE')
    expect(err.message).toContain(`${join(home, 'audit.jsonl')} is a symbolic link`)
    expect(err.message).toMatch(/mv /)
    expect(readFileSync(victim, 'utf8')).toBe(VICTIM_TEXT)
  })

  it('refuses a file owned by another user', async () => {
    if (process.getuid?.() !== 0) return // only root can hand a file to another user
    writeFileSync(join(home, 'devices.json'), JSON.stringify({ version: 1, devices: [] }))
    chownSync(join(home, 'devices.json'), 4321, 4321)
    expect(await codeOf(readDevices(home))).toBe('BAD_STATE')
  })

  it('refuses a HANDOFF_HOME of another user, and a file in its place, with the fix', async () => {
    const file = join(outside, 'file')
    writeFileSync(file, '')
    expect(await codeOf(ensureHome(file))).toBe('BAD_STATE')
    if (process.getuid?.() !== 0) return
    chownSync(home, 4321, 4321)
    const err = (await ensureHome(home).catch((e: unknown) => e)) as HandoffError
    expect(err.code).toBe('BAD_STATE')
    expect(err.message).toMatch(/belongs to uid 4321.*chown/)
  })
})
