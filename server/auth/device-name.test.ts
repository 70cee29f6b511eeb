import { describe, expect, it } from 'vitest'
import { deviceNameFromUserAgent, pairedDeviceName, UNNAMED_DEVICE } from './device-name.js'

const UAS: Array<[string, string]> = [
  ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36', 'Pixel 8 · Chrome'],
  ['Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36', 'Android · Chrome'],
  ['Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36', 'SM-S911B · Samsung Internet'],
  ['Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0', 'Android · Firefox'],
  ['Mozilla/5.0 (Linux; Android 9; Mi A2 Build/PKQ1.180904.001) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0 Mobile Safari/537.36', 'Mi A2 · Chrome'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1', 'iPhone · Safari'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1', 'iPhone · Chrome'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15', 'iPhone · Firefox'],
  ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1', 'iPad · Safari'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148', 'iPhone · Safari'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15', 'Mac · Safari'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0', 'Windows · Edge'],
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36', 'Linux · Chrome'],
  ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', 'Chromebook · Chrome'],
  ['curl/8.5.0', 'Phone'],
  ['', 'Phone'],
]

describe('deviceNameFromUserAgent', () => {
  it.each(UAS)('%s → %s', (ua, name) => {
    expect(deviceNameFromUserAgent(ua)).toBe(name)
  })

  it('treats a missing user agent as unknown', () => {
    expect(deviceNameFromUserAgent(undefined)).toBe('Phone')
  })

  it('strips control characters and bidi overrides from a hostile model name', () => {
    const ua = 'Mozilla/5.0 (Linux; Android 14; Evil\u001b[31mPhone\u202e\u0007) Chrome/1.0 Mobile Safari/537.36'
    const name = deviceNameFromUserAgent(ua)
    expect(name).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/)
    expect(name).toBe('Evil[31mPhone · Chrome')
  })

  it('caps the name at 64 characters', () => {
    const ua = `Mozilla/5.0 (Linux; Android 14; ${'X'.repeat(500)}) Chrome/1.0 Mobile Safari/537.36`
    expect([...deviceNameFromUserAgent(ua)].length).toBeLessThanOrEqual(64)
  })
})

describe('pairedDeviceName', () => {
  const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'

  it('keeps a name given with handoff pair --name', () => {
    expect(pairedDeviceName({ name: 'work phone', nameFromUser: true }, 'mine', ua)).toBe('work phone')
    expect(pairedDeviceName({ name: 'work phone' }, 'mine', ua)).toBe('work phone')
    // Even one that happens to read like the placeholder, when the CLI says the user chose it.
    expect(pairedDeviceName({ name: UNNAMED_DEVICE, nameFromUser: true }, 'mine', ua)).toBe(UNNAMED_DEVICE)
  })

  it('otherwise takes the phone’s suggestion, sanitized, then the user agent', () => {
    expect(pairedDeviceName({ name: UNNAMED_DEVICE, nameFromUser: false }, '  Ana’s\u0000 phone\n', ua)).toBe('Ana’s phone')
    expect(pairedDeviceName({ name: UNNAMED_DEVICE }, '\u0001\u0002', ua)).toBe('iPhone · Safari')
    expect(pairedDeviceName({ name: UNNAMED_DEVICE }, undefined, ua)).toBe('iPhone · Safari')
    expect([...pairedDeviceName({ name: UNNAMED_DEVICE }, 'y'.repeat(1_000), ua)].length).toBe(64)
  })
})

describe('device names under any input (property)', () => {
  it('are plain, short text whatever the user agent or the name asked for', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString } = await import('../../tests/support/arbitraries.js')
    fc.assert(
      fc.property(fc.option(hostileString(300), { nil: undefined }), fc.option(hostileString(300), { nil: undefined }), (agent, asked) => {
        for (const name of [deviceNameFromUserAgent(agent), pairedDeviceName({ name: UNNAMED_DEVICE }, asked, agent)]) {
          expect(name).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u)
          expect([...name].length).toBeLessThanOrEqual(64)
          expect(name.length).toBeGreaterThan(0)
        }
      }),
    )
  })
})
