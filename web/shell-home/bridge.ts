import { nativePlugin } from '../shell/native.js'

/**
 * The native shells' `HandoffBridge` plugin (shells/android, shells/ios;
 * docs/native-shells.md): the phone's own tailnet node (shells/bridge).
 */
export interface BridgeStatus {
  State: string
  Running: boolean
  /** While State is NeedsLogin: the page where the user logs this phone's node in. */
  LoginURL: string
  Tailnet: string
  Name: string
  IPv4: string
  LoginName: string
}

export interface DiscoveredComputer {
  name: string
  url: string
  version: string
}

export interface BridgePlugin {
  /**
   * (Re)starts the node under this name, on Tailscale's control server or a
   * self-hosted one (Headscale), with an auth key or an interactive login.
   * The shell starts it at launch with the last settings; this changes them.
   */
  start(options: { hostname: string; controlURL?: string; authKey?: string }): Promise<BridgeStatus>
  status(): Promise<BridgeStatus>
  /** The tailnet's online nodes that answer as Handoff on `port`. */
  discover(options: { port: number; timeoutMillis: number }): Promise<{ computers: DiscoveredComputer[] }>
  /** Opens a computer's https:// URL in the web view, through the node's proxy. */
  open(options: { url: string }): Promise<void>
}

/** The shell's bridge plugin; undefined outside a shell. */
export const bridgePlugin = (): BridgePlugin | undefined => nativePlugin<BridgePlugin>('HandoffBridge')
