import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hostileString, jsonText } from '../../tests/support/arbitraries.js'
import { BRIDGE_LIMITS, parseControl, parseHistoryLines, parseInitialSize } from './control.js'

describe('control frames from the phone', () => {
  it('reads each frame type and clamps sizes', () => {
    expect(parseControl('{"type":"resize","cols":10000,"rows":1}')).toEqual({ ok: true, message: { type: 'resize', cols: 500, rows: 2 } })
    expect(parseControl('{"type":"ack","bytes":1.9}')).toEqual({ ok: true, message: { type: 'ack', bytes: 1 } })
    expect(parseControl('{"type":"focus","pane":5,"zoom":true}')).toEqual({ ok: true, message: { type: 'focus', pane: 5, zoom: true } })
    expect(parseControl('{"type":"paste","text":"a\\nb"}')).toEqual({ ok: true, message: { type: 'paste', text: 'a\nb' } })
    expect(parseControl('{"type":"visibility","visible":"yes"}').ok).toBe(false)
    expect(parseControl('{"type":"history","pane":3,"lines":5000}')).toEqual({ ok: true, message: { type: 'history', pane: 3, lines: 5000 } })
    expect(parseControl('{"type":"history","pane":3,"lines":50001}').ok).toBe(false)
    expect(parseControl('{"type":"history","pane":3,"lines":2.5}').ok).toBe(false)
    expect(parseControl('{"type":"history","lines":10}').ok).toBe(false)
  })

  it('never throws, and anything it accepts is a well-formed frame within the limits', () => {
    fc.assert(
      fc.property(fc.oneof(hostileString(), jsonText, fc.record({ type: fc.constantFrom('resize', 'ack', 'visibility', 'focus', 'paste', 'history', 'x'), cols: fc.anything(), rows: fc.anything(), bytes: fc.anything(), pane: fc.anything(), lines: fc.anything(), zoom: fc.anything(), visible: fc.anything(), text: fc.anything() }).map((o) => JSON.stringify(o))), (text) => {
        const r = parseControl(text)
        if (!r.ok) {
          expect(typeof r.reason).toBe('string')
          return
        }
        const m = r.message
        if (m.type === 'resize') {
          expect(m.cols).toBeGreaterThanOrEqual(BRIDGE_LIMITS.cols.min)
          expect(m.cols).toBeLessThanOrEqual(BRIDGE_LIMITS.cols.max)
          expect(m.rows).toBeGreaterThanOrEqual(BRIDGE_LIMITS.rows.min)
          expect(m.rows).toBeLessThanOrEqual(BRIDGE_LIMITS.rows.max)
        } else if (m.type === 'ack') expect(Number.isInteger(m.bytes) && m.bytes >= 0).toBe(true)
        else if (m.type === 'focus') expect(Number.isInteger(m.pane) && m.pane >= 0 && typeof m.zoom === 'boolean').toBe(true)
        else if (m.type === 'paste') expect(typeof m.text).toBe('string')
        else if (m.type === 'history') expect(Number.isInteger(m.lines) && m.lines >= 0 && m.lines <= BRIDGE_LIMITS.historyLines.max).toBe(true)
        else expect(typeof m.visible).toBe('boolean')
      }),
    )
  })

  it('reads the URL\'s size and history, or says null', () => {
    fc.assert(
      fc.property(fc.option(hostileString(12)), fc.option(hostileString(12)), fc.option(hostileString(12)), (cols, rows, history) => {
        const size = parseInitialSize(cols, rows)
        if (size) expect(size.cols >= BRIDGE_LIMITS.cols.min && size.rows <= BRIDGE_LIMITS.rows.max).toBe(true)
        const lines = parseHistoryLines(history)
        if (lines !== null) expect(lines >= 0 && lines <= BRIDGE_LIMITS.historyLines.max).toBe(true)
      }),
    )
    expect(parseHistoryLines('50001')).toBeNull()
    expect(parseInitialSize('80', '24')).toEqual({ cols: 80, rows: 24 })
  })
})
