interface CapacitorGlobal {
  isNativePlatform?: () => boolean
  Plugins?: Record<string, unknown>
}

/**
 * A plugin of the native shells (Capacitor's `Plugins[name]`,
 * docs/native-shells.md), or undefined in a browser. The caller names the
 * plugin's interface; the shells register them under these names.
 */
export function nativePlugin<T>(name: 'HandoffDeviceKey' | 'HandoffBridge'): T | undefined {
  const capacitor = (globalThis as { Capacitor?: CapacitorGlobal }).Capacitor
  return capacitor?.isNativePlatform?.() === true ? (capacitor.Plugins?.[name] as T | undefined) : undefined
}
