package dev.handoff.app

import com.getcapacitor.Plugin
import com.getcapacitor.PluginCall
import com.getcapacitor.PluginMethod
import com.getcapacitor.annotation.CapacitorPlugin

/**
 * `HandoffDeviceKey` (web/shell/device-key.ts, docs/auth.md "The native
 * shells' device key"): `pair({challenge})` makes this computer's key and
 * signs the pairing message; `signIn({challenge})` signs a sign-in with the
 * next count. The computer is the origin of the web view's current page, read
 * here, never taken from the page.
 *
 * The computers' pages reach the same keys through [ComputerPages] (Capacitor's
 * own bridge reaches only the app's page on Android); called from the app's
 * page, which is no computer, both methods refuse.
 */
@CapacitorPlugin(name = "HandoffDeviceKey")
class HandoffDeviceKeyPlugin : Plugin() {
    @PluginMethod
    fun pair(call: PluginCall) = ceremony(call, "pair")

    @PluginMethod
    fun signIn(call: PluginCall) = ceremony(call, "signIn")

    private fun ceremony(call: PluginCall, method: String) {
        val challenge = call.getString("challenge")
        bridge.executeOnMainThread {
            val origin = computerOriginOf(bridge.webView.url, bridge.appUrl)
            if (origin == null) {
                call.reject("the device key signs only for a computer's page (https), not for ${originOf(bridge.webView.url)}", "NOT_A_COMPUTER")
                return@executeOnMainThread
            }
            DeviceKeys.shared(context).request(activity, origin, method, challenge) { result ->
                result
                    .onSuccess { call.resolve(it) }
                    .onFailure { call.reject(it.message, (it as? DeviceKeyException)?.code ?: "DEVICE_KEY_FAILED") }
            }
        }
    }
}
