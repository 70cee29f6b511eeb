import type { DeviceKeyPairing, DeviceKeySignIn } from '../../protocol/index.js'
import { nativePlugin } from './native.js'

/**
 * The native shells' device-key plugin (`HandoffDeviceKey`, shells/android
 * and shells/ios; docs/native-shells.md), present only inside a shell's web
 * view. It holds one hardware-bound P-256 key per computer and builds the
 * signed messages itself, from the web view's real origin, so a page can
 * neither name another computer nor have anything else signed; it also
 * keeps the sign-in count.
 */
export interface DeviceKeyPlugin {
  /** Makes this computer's key (replacing an older one) behind the user's biometrics and signs the pairing message. */
  pair(options: { challenge: string }): Promise<Omit<DeviceKeyPairing, 'challenge'>>
  /** Signs a sign-in with this computer's key, after the user's biometrics, with the next count. */
  signIn(options: { challenge: string }): Promise<Omit<DeviceKeySignIn, 'challenge'>>
}

/** The shell's device-key plugin, or undefined in a browser (the app then uses passkeys). */
export const deviceKeyPlugin = (): DeviceKeyPlugin | undefined => nativePlugin<DeviceKeyPlugin>('HandoffDeviceKey')
