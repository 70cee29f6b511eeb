import type { CapacitorConfig } from '@capacitor/cli'

/**
 * Handoff's Android and iOS shells (docs/native-shells.md). The app's own
 * page is the home screen (web/shell-home, built into dist/shell by the root
 * `npm run build`); the computers' pages are loaded from the tailnet through
 * the bridge's proxy by the HandoffBridge plugin, never bundled.
 */
const config: CapacitorConfig = {
  appId: 'dev.handoff.app',
  appName: 'Handoff',
  webDir: '../dist/shell',
}

export default config
