import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { errorCode, request, startHarness, type Harness } from './support/server.js'

let h: Harness
beforeEach(async () => {
  h = await startHarness()
})
afterEach(() => h.stop())

const get = (path: string, headers: Record<string, string> = {}) => request(h.server.port, path, { headers: { cookie: h.device.cookie, ...headers } })
const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  request(h.server.port, path, {
    method,
    headers: { origin: h.origin, 'content-type': 'application/json', cookie: h.device.cookie, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })

describe('sessions API', () => {
  it('lists nothing when no tmux server runs, then what tmux has', async () => {
    expect((await get('/api/sessions')).json).toEqual([])
    h.tmux.newSession('main')
    h.tmux.newSession('main2')
    const r = await get('/api/sessions')
    expect(r.status).toBe(200)
    expect(r.json).toEqual([
      { name: 'main', windows: 1, attached: 0, activity: expect.any(Number) },
      { name: 'main2', windows: 1, attached: 0, activity: expect.any(Number) },
    ])
  })

  it('creates, lists windows, adds a window, kills', async () => {
    h.tmux.start()
    const created = await send('POST', '/api/sessions', { name: 'work-api' })
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({ name: 'work-api', windows: 1 })
    expect(errorCode(await send('POST', '/api/sessions', { name: 'work-api' }))).toBe('SESSION_EXISTS')

    const win = await send('POST', '/api/sessions/work-api/windows', { name: 'logs' })
    expect(win.status).toBe(201)
    expect(win.json).toMatchObject({ index: 1, name: 'logs', active: false })
    const windows = await get('/api/sessions/work-api/windows')
    expect((windows.json as { index: number; active: boolean }[]).map((w) => [w.index, w.active])).toEqual([
      [0, true],
      [1, false],
    ])

    expect((await send('DELETE', '/api/sessions/work-api/windows/1')).status).toBe(204)
    expect(errorCode(await send('DELETE', '/api/sessions/work-api/windows/1'))).toBe('WINDOW_NOT_FOUND')
    expect((await send('DELETE', '/api/sessions/work-api')).status).toBe(204)
    expect((await get('/api/sessions')).json).toEqual([])
  })

  it('addresses sessions by exact, URL-encoded name', async () => {
    h.tmux.newSession('main')
    h.tmux.newSession('main2')
    h.tmux.newSession('with space/and slash')
    expect((await send('DELETE', `/api/sessions/${encodeURIComponent('main')}`)).status).toBe(204)
    const names = ((await get('/api/sessions')).json as { name: string }[]).map((s) => s.name)
    expect(names).toEqual(['main2', 'with space/and slash'])
    const w = await get(`/api/sessions/${encodeURIComponent('with space/and slash')}/windows`)
    expect(w.status).toBe(200)
    expect(errorCode(await get('/api/sessions/main/windows'))).toBe('SESSION_NOT_FOUND')
    expect(errorCode(await get('/api/sessions/ma/windows'))).toBe('SESSION_NOT_FOUND')
  })

  it('lists and opens a name holding a tmux format without running it', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'handoff-fmt-')), 'ran')
    h.tmux.newSession(`x##(touch ${marker})`)
    const name = `x#(touch ${marker})`
    expect(((await get('/api/sessions')).json as { name: string }[])[0]?.name).toBe(name)
    expect((await get(`/api/sessions/${encodeURIComponent(name)}/windows`)).status).toBe(200)
    expect((await send('POST', `/api/sessions/${encodeURIComponent(name)}/windows`, {})).status).toBe(201)
    expect(existsSync(marker)).toBe(false)
  })
})

describe('history', () => {
  it('returns what scrolled off, or everything with the screen, with colours', async () => {
    h.tmux.newSession('main')
    h.tmux.run('send-keys', '-t', 'main:0', "i=0; while [ $i -lt 60 ]; do printf '\\033[32mold-%d\\033[0m\\n' $i; i=$((i+1)); done; echo on-$((1+1))-screen", 'Enter')
    await expect.poll(() => h.tmux.capture('main:0'), { timeout: 10_000 }).toContain('on-2-screen')
    // The screen is 30 rows: the first lines have scrolled into history, the last are on screen.
    const history = await get('/api/sessions/main/windows/0/history?lines=500')
    expect(history.status).toBe(200)
    expect(history.text).toContain('\x1b[32mold-0')
    expect(history.text).not.toContain('on-2-screen')
    const all = await get('/api/sessions/main/windows/0/history?lines=500&screen=1')
    expect(all.text).toContain('old-0')
    expect(all.text).toContain('on-2-screen')
    for (const bad of ['?lines=-1', '?lines=abc', '?lines=50001', '?screen=2']) {
      expect(errorCode(await get(`/api/sessions/main/windows/0/history${bad}`))).toBe('BAD_REQUEST')
    }
    expect(errorCode(await get('/api/sessions/main/windows/9/history'))).toBe('WINDOW_NOT_FOUND')
  })
})

describe('bad input', () => {
  it('refuses bad names with the reason', async () => {
    h.tmux.start()
    for (const name of ['bad name', 'x#(id)', '', 'a'.repeat(65), 'ü']) {
      const r = await send('POST', '/api/sessions', { name })
      expect(r.status).toBe(400)
      expect(errorCode(r)).toBe('BAD_NAME')
    }
    h.tmux.newSession('main')
    expect(errorCode(await send('POST', '/api/sessions/main/windows', { name: '#{pane_pid}' }))).toBe('BAD_NAME')
  })

  it('refuses malformed bodies, wrong types, unknown fields and bad indexes', async () => {
    h.tmux.newSession('main')
    expect(errorCode(await send('POST', '/api/sessions', '{"name":'))).toBe('BAD_REQUEST')
    expect(errorCode(await send('POST', '/api/sessions', { name: 5 }))).toBe('BAD_REQUEST')
    expect(errorCode(await send('POST', '/api/sessions', { name: 'ok', extra: 1 }))).toBe('BAD_REQUEST')
    expect(errorCode(await send('POST', '/api/sessions', '[]'))).toBe('BAD_REQUEST')
    expect(errorCode(await send('DELETE', '/api/sessions/main/windows/-1'))).toBe('BAD_REQUEST')
    expect(errorCode(await send('DELETE', '/api/sessions/main/windows/1x'))).toBe('BAD_REQUEST')
    const big = await send('POST', '/api/sessions', { name: 'a'.repeat(20_000) })
    expect([big.status, errorCode(big)]).toEqual([413, 'BODY_TOO_LARGE'])
    expect(errorCode(await get('/api/nope'))).toBe('NOT_FOUND')
    expect((await get('/api/sessions')).status).toBe(200)
  })
})

describe('guards', () => {
  it('refuses a foreign Host on every request (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${h.server.port}`, `localhost.evil.example:${h.server.port}`, 'localhost', `127.0.0.2:${h.server.port}`]) {
      const r = await get('/api/sessions', { host })
      expect([r.status, errorCode(r)]).toEqual([421, 'HOST_NOT_ALLOWED'])
    }
    for (const host of [`localhost:${h.server.port}`, `127.0.0.1:${h.server.port}`, `[::1]:${h.server.port}`]) {
      expect((await get('/api/health', { host })).status).toBe(200)
    }
  })

  it('refuses writes without this server\'s exact Origin', async () => {
    h.tmux.start()
    for (const origin of ['http://evil.example', 'null', `http://localhost:${h.server.port}.evil.example`, `https://localhost:${h.server.port}`]) {
      const r = await send('POST', '/api/sessions', { name: 'x' }, { origin })
      expect([r.status, errorCode(r)]).toEqual([403, 'ORIGIN_MISMATCH'])
    }
    const noOrigin = await request(h.server.port, '/api/sessions', { method: 'POST', body: '{"name":"x"}' })
    expect(errorCode(noOrigin)).toBe('ORIGIN_MISMATCH')
    expect((await get('/api/sessions')).json).toEqual([])
  })

  it('answers 503 with a clear code when tmux hangs', async () => {
    h.tmux.newSession('main')
    const pid = Number(h.tmux.run('display-message', '-p', '#{pid}').trim())
    process.kill(pid, 'SIGSTOP')
    try {
      const r = await get('/api/sessions')
      expect([r.status, errorCode(r)]).toEqual([503, 'TMUX_TIMEOUT'])
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  }, 20_000)
})

describe('web app and state', () => {
  it('serves the app with the right caching and security headers', async () => {
    const index = await get('/')
    expect(index.status).toBe(200)
    expect(index.headers['cache-control']).toBe('no-cache')
    expect(index.headers['content-security-policy']).toMatch(/default-src 'self'/)
    expect(index.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/)
    expect(index.headers['x-content-type-options']).toBe('nosniff')
    expect(index.headers['referrer-policy']).toBe('no-referrer')
    // A terminal's deep link gets the same app with the terminal's chunk preloaded.
    const deep = await get('/t/main/0')
    expect([deep.status, deep.headers['cache-control'], deep.headers['content-security-policy']]).toEqual([200, 'no-cache', index.headers['content-security-policy']])
    const entry = /<script type="module"[^>]*src="([^"]+)"/.exec(index.text)?.[1]
    expect(deep.text).toContain(`src="${entry}"`)
    const preloaded = /<link rel="modulepreload"[^>]*href="([^"]+)"/.exec(deep.text)?.[1]
    expect(preloaded).toMatch(/^\/assets\/.+\.js$/)
    expect(index.text).not.toContain('rel="modulepreload"')
    expect((await get(preloaded ?? '')).status).toBe(200)
    const asset = /\/assets\/[^"]+\.js/.exec(index.text)?.[0]
    expect(asset).toBeDefined()
    const js = await get(asset ?? '')
    expect(js.status).toBe(200)
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect((await get('/assets/missing-abc123.js')).status).toBe(404)
  })

  it('records itself in HANDOFF_HOME with private modes', async () => {
    expect(statSync(h.home).mode & 0o777).toBe(0o700)
    expect(statSync(join(h.home, 'server.json')).mode & 0o777).toBe(0o600)
  })
})
