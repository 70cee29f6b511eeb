import { describe, expect, it } from 'vitest'
import { forget, loadSaved, mergeComputers, parseComputerAddress, remember } from './computers.js'

/** The Web Storage API over a Map, as a page's localStorage behaves. */
function memoryStorage(initial: Record<string, string> = {}): Storage {
  const map = new Map(Object.entries(initial))
  return {
    get length() {
      return map.size
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem: (key, value) => void map.set(key, String(value)),
  }
}

describe('parseComputerAddress', () => {
  it('takes a name with or without https:// and a port, 7438 by default', () => {
    for (const typed of ['laptop.tail1234.ts.net', ' https://laptop.tail1234.ts.net ', 'https://laptop.tail1234.ts.net:7438/', 'LAPTOP.tail1234.ts.net']) {
      expect(parseComputerAddress(typed)).toEqual({ ok: true, computer: { name: 'laptop.tail1234.ts.net', url: 'https://laptop.tail1234.ts.net:7438' } })
    }
    expect(parseComputerAddress('box.example.com:8443')).toEqual({ ok: true, computer: { name: 'box.example.com', url: 'https://box.example.com:8443' } })
  })

  it('refuses what is not a computer\'s https name, saying why', () => {
    const reasons: Record<string, RegExp> = {
      '': /Type the computer’s name/,
      'http://laptop.tail1234.ts.net': /always https/,
      'https://laptop.tail1234.ts.net/t/main/0': /only the name and port/,
      'https://me:pw@laptop.tail1234.ts.net': /only the name and port/,
      '100.64.0.1': /MagicDNS name, not its address/,
      '[fd7a:115c:a1e0::1]:7438': /MagicDNS name, not its address/,
      laptop: /full name/,
      'https://exa mple.com': /is not a computer’s name/,
      'laptop.tail1234.ts.net:99999': /is not a computer’s name/,
    }
    for (const [typed, reason] of Object.entries(reasons)) {
      const r = parseComputerAddress(typed)
      expect(r.ok, typed).toBe(false)
      expect(!r.ok && r.reason, typed).toMatch(reason)
    }
  })
})

describe('the computers the phone keeps', () => {
  it('remembers the last opened first, forgets on request, and drops what it cannot read', () => {
    const storage = memoryStorage()
    remember({ name: 'a.ts.net', url: 'https://a.ts.net:7438' }, storage)
    remember({ name: 'b.ts.net', url: 'https://b.ts.net:7438' }, storage)
    remember({ name: 'a.ts.net', url: 'https://a.ts.net:7438' }, storage)
    expect(loadSaved(storage).map((c) => c.name)).toEqual(['a.ts.net', 'b.ts.net'])
    forget('https://a.ts.net:7438', storage)
    expect(loadSaved(storage).map((c) => c.name)).toEqual(['b.ts.net'])
    for (const junk of ['not json', '{}', '[1, null, {"url": "javascript:alert(1)"}, {"url": "https://ok.ts.net:1"}]']) {
      expect(loadSaved(memoryStorage({ 'handoff-shell-computers': junk })).map((c) => c.url)).toEqual(junk.includes('ok.ts.net') ? ['https://ok.ts.net:1'] : [])
    }
  })

  it('lists the saved ones in order with whether the tailnet finds them, then new ones by name', () => {
    const saved = [
      { name: 'z.ts.net', url: 'https://z.ts.net:7438' },
      { name: 'gone.ts.net', url: 'https://gone.ts.net:7438' },
    ]
    const found = [
      { name: 'y.ts.net', url: 'https://y.ts.net:7438', version: '0.1.0' },
      { name: 'z.ts.net', url: 'https://z.ts.net:7438', version: '0.1.0' },
      { name: 'b.ts.net', url: 'https://b.ts.net:7438', version: '0.2.0' },
    ]
    expect(mergeComputers(saved, found).map((c) => [c.name, c.added, c.online, c.version])).toEqual([
      ['z.ts.net', true, true, '0.1.0'],
      ['gone.ts.net', true, false, null],
      ['b.ts.net', false, true, '0.2.0'],
      ['y.ts.net', false, true, '0.1.0'],
    ])
  })
})
