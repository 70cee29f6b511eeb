import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { BrowserContext, CDPSession, Page } from 'playwright-core'
import { updateDevices } from '../../server/store/index.js'

/** A phone's platform passkey authenticator (Chromium's virtual one, through DevTools) that verifies the user. */
export class VirtualAuthenticator {
  private constructor(
    private readonly cdp: CDPSession,
    readonly id: string,
  ) {}

  /** Adds one to `page`: from now on its WebAuthn ceremonies use it. */
  static async attach(context: BrowserContext, page: Page): Promise<VirtualAuthenticator> {
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    })
    return new VirtualAuthenticator(cdp, authenticatorId)
  }

  /**
   * Gives the device `deviceId` in `home` a passkey and puts it in this
   * authenticator, as pairing would (pairing itself: pairing-browser.test.ts).
   * Bookkeeping only: the generation stays, so a sign-in cookie stays valid.
   */
  async addPasskeyFor(home: string, deviceId: string): Promise<void> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwk = publicKey.export({ format: 'jwk' })
    const x = Buffer.from(jwk.x!, 'base64url')
    const y = Buffer.from(jwk.y!, 'base64url')
    // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
    const cose = Buffer.concat([Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]), x, Buffer.from([0x22, 0x58, 0x20]), y])
    const id = randomBytes(16)
    await updateDevices(home, (devices) =>
      devices.map((d) => (d.id === deviceId ? { ...d, credential: { id: id.toString('base64url'), publicKey: cose.toString('base64url'), counter: 0, transports: ['internal'] } } : d)),
    )
    await this.cdp.send('WebAuthn.addCredential', {
      authenticatorId: this.id,
      credential: {
        credentialId: id.toString('base64'),
        isResidentCredential: true,
        rpId: 'localhost',
        privateKey: (privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer).toString('base64'),
        userHandle: Buffer.from(deviceId, 'utf8').toString('base64'),
        signCount: 0,
      },
    })
  }
}
