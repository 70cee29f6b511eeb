import { describe, expect, it } from 'vitest'
import { runSoak } from '../bench/soak.js'

// The short version of `node dist/bench/soak.js --terminals 50 --minutes 10`
// (docs/performance.md): terminals opened and closed under continuous output,
// a device revoked and tmux restarted in the middle.
describe('soak', () => {
  it('ends with no more file descriptors, memory or tmux processes than it started with, every socket closed as documented', async () => {
    const report = await runSoak({ terminals: 8, seconds: 15 })
    expect(report.problems).toEqual([])
    expect(report.unexpectedCloses).toEqual([])
    expect(report.closes['4403 DEVICE_REVOKED']).toBeGreaterThan(0)
    expect(report.closes['4500 TMUX_EXITED']).toBeGreaterThan(0)
    expect(report.closes['1000 ']).toBeGreaterThan(0)
  }, 90_000)
})
