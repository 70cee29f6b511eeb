import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
import { ensureHome, readStateFile, writeFileAtomic } from './files.js'
import { withFileLock, type LockOptions } from './lock.js'

/** What one versioned JSON state file is: its name, its schema, what an absent file means, and what to tell the user when it is damaged. */
export interface JsonFileSpec<F> {
  /** The file's name in HANDOFF_HOME, e.g. `devices.json`. */
  name: string
  /** The whole file, `{"version": 1, ...}`. */
  schema: v.GenericSchema<unknown, F>
  /** What a missing file holds. */
  empty: F
  /** How a message names the kind of file: `a version 1 devices file`. */
  kind: string
  /** What to do about a damaged file at `path`, said after "It was left untouched:". */
  fix: (path: string) => string
  /**
   * Parse the file again only when it changed (one stat per read when it did
   * not): every write replaces the file, so an unchanged identity is an
   * unchanged file. The values handed out are then shared: never change them.
   */
  cache?: boolean
}

export interface JsonFile<F> {
  path(home: string): string
  /** The file's content, validated; `empty` when it does not exist; BAD_STATE naming the file (never overwritten) when it is damaged. */
  read(home: string): Promise<F>
  /**
   * Read-modify-write under the file's lock: `change` gets the current
   * content (a copy) and returns the new one, validated before anything is
   * written (atomically, 0600) and written only when it differs. Returns what
   * the file holds. Safe against the CLI and the server changing it at once.
   */
  update(home: string, change: (current: F) => F | Promise<F>, options?: LockOptions): Promise<F>
  /** Writes without the lock, for a file with one writer (the server's own record); validated, atomic. */
  write(home: string, value: F): Promise<void>
}

const describe = (issues: readonly v.BaseIssue<unknown>[]): string => {
  const issue = issues[0]
  const at = issue ? v.getDotPath(issue) : null
  return `${at ? `${at}: ` : ''}${issue?.message ?? 'unknown problem'}`
}

const serialize = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`

/** Shared values are frozen, so no caller can change what the next read returns. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/** One versioned, locked, validated JSON state file under HANDOFF_HOME (devices.json, push.json, events.state.json). */
export function jsonStateFile<F>(spec: JsonFileSpec<F>): JsonFile<F> {
  const path = (home: string) => join(home, spec.name)
  const damaged = (file: string, problem: string, cause?: unknown) =>
    new HandoffError('BAD_STATE', 500, `${file} ${problem}. It was left untouched: ${spec.fix(file)}`, cause === undefined ? undefined : { cause })
  const lastRead = new Map<string, { signature: string; value: F }>()

  async function read(home: string): Promise<F> {
    const file = path(home)
    let signature = ''
    if (spec.cache) {
      // lstat: a link put in its place is a new identity, read (and refused) below.
      const s = await lstat(file, { bigint: true }).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)))
      if (!s) return spec.empty
      signature = `${s.dev}:${s.ino}:${s.mtimeNs}:${s.ctimeNs}:${s.size}`
      const cached = lastRead.get(file)
      if (cached?.signature === signature) return cached.value
    }
    const text = await readStateFile(file)
    if (text === undefined) return spec.empty
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (err) {
      throw damaged(file, `is not valid JSON (${(err as Error).message})`, err)
    }
    const parsed = v.safeParse(spec.schema, raw)
    if (!parsed.success) throw damaged(file, `is not ${spec.kind} (${describe(parsed.issues)})`)
    if (spec.cache) lastRead.set(file, { signature, value: deepFreeze(parsed.output) })
    return parsed.output
  }

  function check(file: string, value: F): F {
    const checked = v.safeParse(spec.schema, value)
    if (!checked.success) throw new HandoffError('INTERNAL', 500, `refusing to write ${file}: ${describe(checked.issues)}; the file was not changed`)
    return checked.output
  }

  return {
    path,
    read,
    async update(home, change, options = {}) {
      await ensureHome(home)
      const file = path(home)
      return withFileLock(
        file,
        async () => {
          const before = await read(home)
          const next = check(file, await change(structuredClone(before)))
          if (serialize(next) !== serialize(before)) await writeFileAtomic(file, serialize(next))
          return next
        },
        options,
      )
    },
    async write(home, value) {
      await writeFileAtomic(path(home), serialize(check(path(home), value)))
    },
  }
}
