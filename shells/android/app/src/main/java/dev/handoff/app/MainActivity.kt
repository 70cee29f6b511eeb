package dev.handoff.app

import android.os.Bundle
import com.getcapacitor.BridgeActivity

/** The app: Capacitor's web view with Handoff's own plugins (docs/native-shells.md). */
class MainActivity : BridgeActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        // Plugins that live in the app itself are registered before the bridge is made.
        registerPlugin(HandoffDeviceKeyPlugin::class.java)
        registerPlugin(HandoffBridgePlugin::class.java)
        super.onCreate(savedInstanceState)
    }
}
