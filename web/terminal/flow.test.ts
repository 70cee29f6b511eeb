import { afterEach, describe, expect, it, vi } from 'vitest'
import { AckBatcher, bytesOfBinaryString, inputFrames } from './flow.js'

describe('AckBatcher', () => {
  afterEach(() => vi.useRealTimers())

  it('acknowledges as soon as a batch is full', () => {
    const acks: number[] = []
    const batcher = new AckBatcher((bytes) => acks.push(bytes), 100, 50)
    batcher.rendered(60)
    batcher.rendered(60)
    expect(acks).toEqual([120])
  })

  it('acknowledges a small remainder after the delay', () => {
    vi.useFakeTimers()
    const acks: number[] = []
    const batcher = new AckBatcher((bytes) => acks.push(bytes), 100, 50)
    batcher.rendered(5)
    batcher.rendered(7)
    vi.advanceTimersByTime(49)
    expect(acks).toEqual([])
    vi.advanceTimersByTime(1)
    expect(acks).toEqual([12])
  })

  it('reports nothing once disposed', () => {
    vi.useFakeTimers()
    const acks: number[] = []
    const batcher = new AckBatcher((bytes) => acks.push(bytes), 100, 50)
    batcher.rendered(5)
    batcher.dispose()
    batcher.rendered(500)
    vi.runAllTimers()
    expect(acks).toEqual([])
  })
})

describe('inputFrames', () => {
  it('splits at the limit and keeps every byte', () => {
    const bytes = new Uint8Array(10).map((_, i) => i)
    const frames = [...inputFrames(bytes, 4)]
    expect(frames.map((f) => f.byteLength)).toEqual([4, 4, 2])
    expect(frames.flatMap((f) => [...f])).toEqual([...bytes])
  })

  it('sends nothing for empty input', () => {
    expect([...inputFrames(new Uint8Array(0), 4)]).toEqual([])
  })
})

describe('bytesOfBinaryString', () => {
  it('maps each code unit to one byte', () => {
    expect([...bytesOfBinaryString('\x1b[M \xff')]).toEqual([0x1b, 0x5b, 0x4d, 0x20, 0xff])
  })
})
