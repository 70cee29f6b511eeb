import { describe, expect, it } from 'vitest'
import { ControlParser, ControlStreamError, decodeOutput, type ControlEvent } from './control-parser.js'

const parse = (text: string | Buffer, chunk = Infinity) => {
  const events: ControlEvent[] = []
  const parser = new ControlParser((e) => events.push(e), { maxReplyBytes: 64, maxLineBytes: 1024 })
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text)
  for (let i = 0; i < bytes.length; i += Math.min(chunk, bytes.length)) parser.push(bytes.subarray(i, i + Math.min(chunk, bytes.length)))
  return events
}

describe('control-mode stream', () => {
  it('decodes octal escapes back to the exact bytes, UTF-8 passing through', () => {
    const line = Buffer.concat([Buffer.from('%output %12 a\\033[1mb\\134\\015\\012'), Buffer.from('é✳', 'utf8')])
    expect(parse(Buffer.concat([line, Buffer.from('\n')]))).toEqual([
      { type: 'output', pane: 12, data: Buffer.concat([Buffer.from('a\x1b[1mb\\\r\n'), Buffer.from('é✳', 'utf8')]) },
    ])
    // A backslash not followed by three octal digits is kept as it is.
    expect(decodeOutput(Buffer.from('x\\9z\\1'), 0)).toEqual(Buffer.from('x\\9z\\1'))
  })

  it('reads extended output (pause-after) and notifications', () => {
    expect(parse('%extended-output %3 15 : hi\\012\n%window-add @7\n%exit\n')).toEqual([
      { type: 'output', pane: 3, data: Buffer.from('hi\n') },
      { type: 'notification', name: 'window-add', args: '@7' },
      { type: 'notification', name: 'exit', args: '' },
    ])
  })

  it('frames replies by their own guard, whatever the reply text holds, split anywhere', () => {
    const stream =
      '%begin 1700000000 41 1\nline one\n%end 1700000000 40 1\n%end 1 41 1\n%output %1 fake\n%end 1700000000 41 1\n' +
      '%begin 1700000001 42 1\nno such window\n%error 1700000001 42 1\n' +
      '%begin 1700000002 43 0\n%end 1700000002 43 0\n'
    for (const chunk of [Infinity, 1, 7]) {
      expect(parse(stream, chunk)).toEqual([
        { type: 'reply', ok: true, fromClient: true, truncated: false, lines: ['line one', '%end 1700000000 40 1', '%end 1 41 1', '%output %1 fake'] },
        { type: 'reply', ok: false, fromClient: true, truncated: false, lines: ['no such window'] },
        { type: 'reply', ok: true, fromClient: false, truncated: false, lines: [] },
      ])
    }
  })

  it('cuts a reply over its limit but still consumes the block', () => {
    const events = parse(`%begin 1 1 1\n${'x'.repeat(50)}\n${'y'.repeat(50)}\n%end 1 1 1\n%window-add @1\n`)
    expect(events[0]).toMatchObject({ type: 'reply', truncated: true, lines: ['x'.repeat(50)] })
    expect(events[1]).toEqual({ type: 'notification', name: 'window-add', args: '@1' })
  })

  it('refuses an endless line with a stream error', () => {
    expect(() => parse('%output %1 ' + 'z'.repeat(2000))).toThrow(ControlStreamError)
  })

  it('ignores lines that are not control lines outside a block', () => {
    expect(parse('garbage\n\n%output %x bad\n%output %2 ok\n')).toEqual([{ type: 'output', pane: 2, data: Buffer.from('ok') }])
  })
})

describe('the control-mode stream under any split (property)', () => {
  it('gives the same events however the bytes arrive, and exact output bytes', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString } = await import('../../tests/support/arbitraries.js')
    // tmux's encoding of pane output: bytes below 32 and the backslash as octal.
    const encode = (data: Buffer) => [...data].map((b) => (b < 32 || b === 0x5c ? `\\${b.toString(8).padStart(3, '0')}` : String.fromCharCode(b))).join('')
    const item = fc.oneof(
      fc.uint8Array({ maxLength: 50 }).map((bytes) => ({ kind: 'output' as const, data: Buffer.from(bytes) })),
      fc.array(hostileString(30).map((s) => s.replace(/\n/g, ' ')), { maxLength: 4 }).map((lines) => ({ kind: 'reply' as const, lines })),
      fc.constantFrom('window-add @1', 'sessions-changed', 'exit').map((n) => ({ kind: 'notification' as const, n })),
    )
    fc.assert(
      fc.property(fc.array(item, { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (items, cuts) => {
        let number = 100
        const stream = Buffer.concat(
          items.map((it) => {
            if (it.kind === 'output') return Buffer.concat([Buffer.from('%output %7 '), Buffer.from(encode(it.data), 'latin1'), Buffer.from('\n')])
            if (it.kind === 'notification') return Buffer.from(`%${it.n}\n`)
            number++
            return Buffer.from(`%begin 1700000000 ${number} 1\n${it.lines.map((l) => `${l}\n`).join('')}%end 1700000000 ${number} 1\n`, 'utf8')
          }),
        )
        const events: ControlEvent[] = []
        const parser = new ControlParser((e) => events.push(e))
        let at = 0
        for (let i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length] ?? 1
          parser.push(stream.subarray(at, at + size))
          at += size
        }
        expect(events).toHaveLength(items.length)
        items.forEach((it, i) => {
          const e = events[i]!
          if (it.kind === 'output') expect(e).toEqual({ type: 'output', pane: 7, data: it.data })
          else if (it.kind === 'reply') expect(e).toEqual({ type: 'reply', ok: true, fromClient: true, truncated: false, lines: it.lines })
          else expect(e.type).toBe('notification')
        })
      }),
    )
  })
})
