package dev.handoff.app

import android.net.Uri
import android.webkit.WebView
import androidx.webkit.JavaScriptReplyProxy
import androidx.webkit.ScriptHandler
import androidx.webkit.WebMessageCompat
import androidx.webkit.WebViewCompat
import androidx.webkit.WebViewFeature
import com.getcapacitor.JSObject
import org.json.JSONException
import org.json.JSONObject

/**
 * `Capacitor.Plugins.HandoffDeviceKey` in the computers' pages.
 *
 * On Android, Capacitor's own bridge reaches only the app's page: its script
 * and its message listener are bound to the app's origin (https://localhost).
 * A computer's page (https://COMPUTER.TAILNET:PORT) gets the device-key
 * plugin from here instead: a script run at document start and a message
 * listener, both bound to the origins of the computers opened through
 * HandoffBridge, answering the main frame only. The origin the key signs for
 * is the web view's URL, read here, and must be the one WebView reports as
 * the message's sender; the page gives only the challenge.
 *
 * Call on the main thread.
 */
class ComputerPages(
    private val webView: WebView,
    private val signer: (origin: String, method: String, challenge: String?, reply: (Result<JSObject>) -> Unit) -> Unit,
) {
    private val origins = LinkedHashSet<String>()
    private var listening = false
    private var script: ScriptHandler? = null

    private val listener = WebViewCompat.WebMessageListener { view, message, sourceOrigin, isMainFrame, replyProxy ->
        onMessage(view, message, sourceOrigin, isMainFrame, replyProxy)
    }

    /** Whether this phone's WebView can give computer pages the plugin (message listeners and document-start scripts). */
    val supported: Boolean
        get() = WebViewFeature.isFeatureSupported(WebViewFeature.WEB_MESSAGE_LISTENER) &&
            WebViewFeature.isFeatureSupported(WebViewFeature.DOCUMENT_START_SCRIPT)

    /** Gives the pages of [added] the plugin from their next load on. */
    fun allow(added: Collection<String>) {
        if (!supported || !origins.addAll(added)) return
        val rules = origins.toSet()
        if (listening) WebViewCompat.removeWebMessageListener(webView, OBJECT)
        WebViewCompat.addWebMessageListener(webView, OBJECT, rules, listener)
        listening = true
        script?.remove()
        script = WebViewCompat.addDocumentStartJavaScript(webView, SHIM, rules)
    }

    private fun onMessage(view: WebView, message: WebMessageCompat, sourceOrigin: Uri, isMainFrame: Boolean, replyProxy: JavaScriptReplyProxy) {
        val request = try {
            JSONObject(message.data ?: return)
        } catch (e: JSONException) {
            return
        } catch (e: IllegalStateException) {
            return // not a string message
        }
        val id = request.opt("id")
        fun reply(result: Result<JSObject>) {
            val answer = JSONObject().put("id", id)
            result
                .onSuccess { answer.put("ok", true).put("value", it) }
                .onFailure {
                    val code = (it as? DeviceKeyException)?.code ?: "DEVICE_KEY_FAILED"
                    answer.put("ok", false).put("code", code).put("message", it.message ?: code)
                }
            view.post { replyProxy.postMessage(answer.toString()) }
        }
        val origin = originOf(view.url)
        when {
            !isMainFrame -> reply(Result.failure(DeviceKeyException("NOT_MAIN_FRAME", "only the computer's page itself may use the device key")))
            origin == null || origin != originOf(sourceOrigin.toString()) || origin !in origins ->
                reply(Result.failure(DeviceKeyException("WRONG_ORIGIN", "this page is not a computer opened in this app")))
            else -> {
                val options = request.optJSONObject("options")
                val challenge = if (options != null && options.has("challenge")) options.optString("challenge") else null
                signer(origin, request.optString("method"), challenge, ::reply)
            }
        }
    }

    private companion object {
        /** The JavaScript object WebView injects into the allowed pages. */
        const val OBJECT = "handoffDeviceKey"

        /** Capacitor's plugin shape over that object: each call a message, each answer a reply with its id. */
        val SHIM = """
            (function () {
              var port = window.$OBJECT;
              if (!port) return;
              var next = 1;
              var waiting = {};
              port.onmessage = function (event) {
                var answer;
                try { answer = JSON.parse(event.data); } catch (e) { return; }
                var call = waiting[answer.id];
                if (!call) return;
                delete waiting[answer.id];
                if (answer.ok) { call.resolve(answer.value); return; }
                var error = new Error(answer.message);
                error.code = answer.code;
                call.reject(error);
              };
              function call(method, options) {
                return new Promise(function (resolve, reject) {
                  var id = next++;
                  waiting[id] = { resolve: resolve, reject: reject };
                  port.postMessage(JSON.stringify({ id: id, method: method, options: options || {} }));
                });
              }
              var deviceKey = Object.freeze({
                pair: function (options) { return call('pair', options); },
                signIn: function (options) { return call('signIn', options); }
              });
              var capacitor = window.Capacitor || {};
              capacitor.isNativePlatform = function () { return true; };
              capacitor.getPlatform = function () { return 'android'; };
              capacitor.Plugins = Object.assign({}, capacitor.Plugins, { HandoffDeviceKey: deviceKey });
              window.Capacitor = capacitor;
            })();
        """.trimIndent()
    }
}
