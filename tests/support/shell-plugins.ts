import type { BrowserContext } from 'playwright-core'

/**
 * Makes every page of `context` look like a native shell's web view: a
 * `Capacitor` global with the `HandoffDeviceKey` plugin (web/shell/device-key.ts)
 * and, given a phone node's bridge API, the `HandoffBridge` plugin
 * (web/shell-home/bridge.ts);
 * its key a software ECDSA P-256 key (WebCrypto, kept in the page's storage)
 * standing in for the hardware one. Like the native plugin, it builds the
 * messages from the page's real origin and counts the sign-ins.
 */
export async function actAsShell(context: BrowserContext, options: { bridgeApi?: string } = {}): Promise<void> {
  // The HandoffBridge plugin answers from the real bridge of a test phone node (its --api), through the test process.
  const { bridgeApi } = options
  if (bridgeApi) {
    await context.exposeBinding('handoffTestBridge', async (_source, method: string, query: string) => {
      const res = await fetch(`http://${bridgeApi}/${method}?${query}`)
      if (!res.ok) throw new Error(`bridge ${method}: ${res.status} ${await res.text()}`)
      return (await res.json()) as unknown
    })
  }
  await context.addInitScript((withBridge: boolean) => {
    const STORE = 'test-shell-device-key'
    const b64u = (bytes: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' }
    const sign = async (jwk: JsonWebKey, message: string) => {
      const key = await crypto.subtle.importKey('jwk', jwk, ecdsa, false, ['sign'])
      return b64u(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new TextEncoder().encode(message)))
    }
    type Saved = { jwk: JsonWebKey; keyId: string; counter: number }
    const plugin = {
      async pair({ challenge }: { challenge: string }) {
        const pair = await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])
        const spki = await crypto.subtle.exportKey('spki', pair.publicKey)
        const saved: Saved = { jwk: await crypto.subtle.exportKey('jwk', pair.privateKey), keyId: b64u(await crypto.subtle.digest('SHA-256', spki)), counter: 0 }
        localStorage.setItem(STORE, JSON.stringify(saved))
        return { publicKey: b64u(spki), signature: await sign(saved.jwk, `handoff device-key pair v1\n${location.origin}\n${challenge}`), signatureFormat: 'p1363' }
      },
      async signIn({ challenge }: { challenge: string }) {
        const saved = JSON.parse(localStorage.getItem(STORE) ?? 'null') as Saved | null
        if (!saved) throw new Error('no device key for this computer: pair first')
        saved.counter += 1
        localStorage.setItem(STORE, JSON.stringify(saved))
        const signature = await sign(saved.jwk, `handoff device-key sign-in v1\n${location.origin}\n${challenge}\n${saved.counter}`)
        return { keyId: saved.keyId, counter: saved.counter, signature, signatureFormat: 'p1363' }
      },
    }
    type Call = (method: string, query: string) => Promise<unknown>
    const call = (globalThis as unknown as { handoffTestBridge: Call }).handoffTestBridge
    const bridge = {
      // The test's phone node runs as the test started it.
      start: () => Promise.reject(new Error('the test phone node cannot be restarted')),
      status: () => call('status', ''),
      discover: async ({ port, timeoutMillis }: { port: number; timeoutMillis: number }) => ({ computers: await call('discover', `port=${port}&timeout=${timeoutMillis}`) }),
      // The native plugin loads the URL in the web view, whose traffic goes through the bridge's proxy.
      open: async ({ url }: { url: string }) => void location.assign(url),
    }
    ;(globalThis as { Capacitor?: unknown }).Capacitor = { isNativePlatform: () => true, Plugins: { HandoffDeviceKey: plugin, ...(withBridge ? { HandoffBridge: bridge } : {}) } }
  }, bridgeApi !== undefined)
}
