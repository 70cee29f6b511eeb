import { sanitizeDeviceName } from '../store/index.js'

/**
 * The name a pending device carries when `handoff pair` was given no
 * `--name`: pairing then names the device after the phone (its own
 * `deviceName`, else its user agent). Any other name was chosen on the
 * machine and is kept.
 */
export const UNNAMED_DEVICE = 'New device'

/** The name used when neither the phone nor its user agent says anything useful. */
export const FALLBACK_DEVICE_NAME = 'Phone'

// Most specific first: Edge, Opera and Samsung Internet also say "Chrome", and every iOS browser says "Safari".
const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOPiOS\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bCriOS\/|Chrome\//, 'Chrome'], // HeadlessChrome too
  [/\bVersion\/[\d.]+.*\bSafari\/|\bAppleWebKit\/.*\bMobile\//, 'Safari'],
]

function platformOf(ua: string): string | undefined {
  if (/\biPhone\b/.test(ua)) return 'iPhone'
  if (/\biPad\b/.test(ua)) return 'iPad'
  if (/\biPod\b/.test(ua)) return 'iPod'
  const android = /\bAndroid(?: [\d.]+)?;\s*([^;)]*?)(?:\s+Build\/[^;)]*)?\s*[;)]/.exec(ua)
  if (android) {
    const model = android[1]?.trim() ?? ''
    // Chrome's reduced user agent replaces the model with "K"; "wv" marks a WebView, "Mobile" says nothing.
    return model === '' || model === 'K' || model === 'wv' || /^(?:Mobile|Tablet|[a-z]{2}(?:-[A-Za-z]{2})?)$/.test(model) ? 'Android' : model
  }
  if (/\bAndroid\b/.test(ua)) return 'Android'
  if (/\bCrOS\b/.test(ua)) return 'Chromebook'
  // iPadOS Safari asks for desktop sites and says "Macintosh": it cannot be told apart from a Mac.
  if (/\bMacintosh\b/.test(ua)) return 'Mac'
  if (/\bWindows\b/.test(ua)) return 'Windows'
  if (/\bLinux\b/.test(ua)) return 'Linux'
  return undefined
}

/**
 * A readable device name from a user agent, such as "Pixel 8 · Chrome" or
 * "iPhone · Safari"; "Phone" when the agent says nothing recognisable.
 * Always passed through sanitizeDeviceName (no control characters, at most
 * 64 characters), since the user agent is chosen by the client.
 */
export function deviceNameFromUserAgent(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').slice(0, 1024)
  const platform = platformOf(ua)
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1]
  const name = sanitizeDeviceName([platform, browser].filter((p) => p !== undefined).join(' · '))
  return name === '' ? FALLBACK_DEVICE_NAME : name
}

/**
 * The name pairing gives a device: the one set with `handoff pair --name`
 * (`nameFromUser`; without that flag, any name but {@link UNNAMED_DEVICE})
 * if any, else the phone's own suggestion, else one from its user agent.
 * Every candidate is sanitized; an empty result falls through to the next.
 */
export function pairedDeviceName(
  device: { name: string; nameFromUser?: boolean | undefined },
  suggested: string | undefined,
  userAgent: string | undefined,
): string {
  if (device.nameFromUser ?? device.name !== UNNAMED_DEVICE) return device.name
  const fromPhone = suggested === undefined ? '' : sanitizeDeviceName(suggested)
  return fromPhone !== '' ? fromPhone : deviceNameFromUserAgent(userAgent)
}
