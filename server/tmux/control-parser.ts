/**
 * Reads tmux's control-mode stream (tmux(1), CONTROL MODE): replies to our
 * commands framed by `%begin`/`%end`/`%error` guard lines, pane output
 * (`%output`, `%extended-output`) and notifications (`%window-add` …).
 *
 * Reply lines are tmux's raw output and may hold text that came from a pane
 * or a path. A block therefore ends only on a guard line that repeats the
 * exact time and command number of its `%begin`, which text in a pane cannot
 * know in advance.
 */

export type ControlEvent =
  /** A command's reply. `fromClient`: sent by us (flags 1), not run for us by tmux (the attach, hooks). */
  | { type: 'reply'; ok: boolean; lines: string[]; fromClient: boolean; truncated: boolean }
  /** Pane output, decoded to the exact bytes the program wrote. */
  | { type: 'output'; pane: number; data: Buffer }
  /** Any other `%name args` line; `args` is the rest of the line as text. */
  | { type: 'notification'; name: string; args: string }

export interface ControlParserLimits {
  /** A reply holding more text than this is cut (and reported `truncated`), its block still consumed. */
  maxReplyBytes: number
  /** A line longer than this is a broken stream. */
  maxLineBytes: number
}

export const CONTROL_PARSER_LIMITS: ControlParserLimits = {
  maxReplyBytes: 32 * 1024 * 1024,
  maxLineBytes: 8 * 1024 * 1024,
}

const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const PERCENT = 0x25
const OUTPUT = Buffer.from('%output %')
const EXTENDED_OUTPUT = Buffer.from('%extended-output %')
const BEGIN = Buffer.from('%begin ')
const GUARD = /^%(begin|end|error) (\d+) (\d+) (\d+)$/

export class ControlStreamError extends Error {}

/** Turns tmux's octal escapes (`\ooo`, used for bytes below 32 and for `\`) back into bytes. */
export function decodeOutput(line: Buffer, start: number): Buffer {
  const first = line.indexOf(BACKSLASH, start)
  if (first === -1) return Buffer.from(line.subarray(start))
  const out = Buffer.allocUnsafe(line.length - start)
  let n = line.copy(out, 0, start, first)
  for (let i = first; i < line.length; i++) {
    const b = line[i]!
    if (b === BACKSLASH && i + 3 < line.length) {
      const o1 = line[i + 1]! - 48
      const o2 = line[i + 2]! - 48
      const o3 = line[i + 3]! - 48
      if (o1 >= 0 && o1 <= 3 && o2 >= 0 && o2 <= 7 && o3 >= 0 && o3 <= 7) {
        out[n++] = o1 * 64 + o2 * 8 + o3
        i += 3
        continue
      }
    }
    out[n++] = b
  }
  return out.subarray(0, n)
}

/** Reads a decimal number at `at`; returns it and where it ended, or null. */
function readNumber(line: Buffer, at: number): { value: number; end: number } | null {
  let value = 0
  let i = at
  while (i < line.length && line[i]! >= 48 && line[i]! <= 57 && i - at < 10) value = value * 10 + line[i++]! - 48
  return i === at ? null : { value, end: i }
}

interface OpenBlock {
  /** `T N` of the `%begin`, which its end guard must repeat. */
  key: string
  fromClient: boolean
  lines: string[]
  bytes: number
  truncated: boolean
}

/**
 * Splits the stream into lines and lines into events. Feed it every chunk
 * tmux writes; it calls `emit` for each complete event, in order.
 */
export class ControlParser {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private block: OpenBlock | null = null

  constructor(
    private readonly emit: (event: ControlEvent) => void,
    private readonly limits: ControlParserLimits = CONTROL_PARSER_LIMITS,
  ) {}

  /** Throws ControlStreamError when the stream cannot be tmux's (an endless line). */
  push(chunk: Buffer): void {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start)
      if (nl === -1) break
      let line = chunk.subarray(start, nl)
      if (this.pending.length > 0) {
        line = Buffer.concat([...this.pending, line])
        this.pending = []
        this.pendingBytes = 0
      }
      start = nl + 1
      this.line(line)
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      this.pendingBytes += rest.length
      if (this.pendingBytes > this.limits.maxLineBytes) {
        throw new ControlStreamError(`tmux sent a line longer than ${this.limits.maxLineBytes} bytes`)
      }
      // Copy: the caller may reuse its chunk.
      this.pending.push(Buffer.from(rest))
    }
  }

  private line(line: Buffer): void {
    const block = this.block
    if (block) {
      if (line[0] === PERCENT && line.length < 64) {
        const guard = GUARD.exec(line.toString('latin1'))
        if (guard && guard[1] !== 'begin' && `${guard[2]} ${guard[3]}` === block.key) {
          this.block = null
          this.emit({ type: 'reply', ok: guard[1] === 'end', lines: block.lines, fromClient: block.fromClient, truncated: block.truncated })
          return
        }
      }
      block.bytes += line.length + 1
      if (block.bytes > this.limits.maxReplyBytes) block.truncated = true
      else block.lines.push(line.toString('utf8'))
      return
    }
    if (line[0] !== PERCENT) return // Nothing else is sent outside a block; ignore rather than guess.
    if (startsWith(line, OUTPUT)) return this.output(line, OUTPUT.length, false)
    if (startsWith(line, EXTENDED_OUTPUT)) return this.output(line, EXTENDED_OUTPUT.length, true)
    if (startsWith(line, BEGIN)) {
      const guard = GUARD.exec(line.toString('latin1'))
      if (guard) {
        this.block = { key: `${guard[2]} ${guard[3]}`, fromClient: guard[4] === '1', lines: [], bytes: 0, truncated: false }
        return
      }
    }
    const text = line.toString('utf8')
    const space = text.indexOf(' ')
    this.emit({ type: 'notification', name: space === -1 ? text.slice(1) : text.slice(1, space), args: space === -1 ? '' : text.slice(space + 1) })
  }

  /** `%output %ID DATA` or `%extended-output %ID AGE ... : DATA`. */
  private output(line: Buffer, at: number, extended: boolean): void {
    const pane = readNumber(line, at)
    if (!pane) return
    let dataStart: number
    if (extended) {
      const colon = line.indexOf(' : ', pane.end)
      if (colon === -1) return
      dataStart = colon + 3
    } else {
      if (line[pane.end] !== 0x20) return
      dataStart = pane.end + 1
    }
    this.emit({ type: 'output', pane: pane.value, data: decodeOutput(line, dataStart) })
  }
}

const startsWith = (line: Buffer, prefix: Buffer): boolean =>
  line.length >= prefix.length && line.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
