package dev.handoff.app

import android.Manifest
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import androidx.core.app.ActivityCompat
import androidx.core.content.ContextCompat
import androidx.webkit.ProxyConfig
import androidx.webkit.ProxyController
import androidx.webkit.WebViewFeature
import com.getcapacitor.JSArray
import com.getcapacitor.JSObject
import com.getcapacitor.Plugin
import com.getcapacitor.PluginCall
import com.getcapacitor.PluginMethod
import com.getcapacitor.annotation.CapacitorPlugin
import dev.handoff.go.bridge.Bridge
import dev.handoff.go.bridge.Node
import dev.handoff.go.bridge.Status
import java.io.File
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference

/**
 * `HandoffBridge` (web/shell-home/bridge.ts, docs/native-shells.md): this
 * phone's own tailnet node, the gomobile-bound shells/bridge.
 *
 * At launch the node starts with the last settings (`start`'s, else this
 * phone's default name on Tailscale's control server) from its state in the
 * app's files, its loopback proxy starts, and every WebView of the app is set
 * to use that proxy (androidx.webkit ProxyController): the web view then opens
 * `https://COMPUTER.TAILNET:PORT` unchanged. `open` loads a computer's page,
 * `home` the app's own; a computer opened once may be navigated in the web
 * view (other sites open in the browser), gets the device-key plugin
 * ([ComputerPages]) and has its events followed for notifications
 * ([EventWatcher]), whose taps come back here as deep links.
 */
@CapacitorPlugin(name = "HandoffBridge")
class HandoffBridgePlugin : Plugin() {
    private data class Settings(val hostname: String, val controlURL: String)

    /** Starts and stops, in order. */
    private val lifecycle = Executors.newSingleThreadExecutor()

    /** Calls that block on the node (status, discovery, waiting for it to run). */
    private val calls = Executors.newCachedThreadPool()

    @Volatile private var node: Node? = null

    @Volatile private var settings: Settings? = null

    @Volatile private var proxyPort = 0

    @Volatile private var foreground = false

    private val pendingLink = AtomicReference<Uri?>(null)
    private lateinit var pages: ComputerPages
    private lateinit var events: EventWatcher
    private val prefs by lazy { context.getSharedPreferences("handoff-bridge", Context.MODE_PRIVATE) }

    override fun load() {
        pages = ComputerPages(bridge.webView) { origin, method, challenge, reply ->
            DeviceKeys.shared(context).request(activity, origin, method, challenge, reply)
        }
        pages.allow(computers())
        events = EventWatcher(context) { origin, list -> notify(origin, list) }
        val saved = Settings(prefs.getString("hostname", null) ?: defaultHostname(), prefs.getString("controlURL", null) ?: "")
        lifecycle.execute {
            try {
                startNode(saved, "")
            } catch (e: Exception) {
                // status() reports the node as not started; start() says why.
            }
        }
    }

    @PluginMethod
    fun start(call: PluginCall) {
        val hostname = call.getString("hostname")?.trim().orEmpty()
        val controlURL = call.getString("controlURL")?.trim().orEmpty()
        val authKey = call.getString("authKey")?.trim().orEmpty()
        if (!HOSTNAME.matches(hostname)) {
            call.reject("hostname must be 1 to 63 letters, digits or dashes, got \"$hostname\"", "BAD_ARGUMENT")
            return
        }
        if (controlURL.isNotEmpty() && !controlURL.startsWith("https://") && !controlURL.startsWith("http://")) {
            call.reject("controlURL must be an http(s) URL (Headscale's), or left out for Tailscale's", "BAD_ARGUMENT")
            return
        }
        lifecycle.execute {
            try {
                call.resolve(statusJson(startNode(Settings(hostname, controlURL), authKey)))
            } catch (e: Exception) {
                call.reject("the tailnet node did not start: ${e.message}", "START_FAILED", e)
            }
        }
    }

    @PluginMethod
    fun status(call: PluginCall) {
        calls.execute {
            val current = node
            if (current == null) {
                call.resolve(statusJson(null))
                return@execute
            }
            try {
                call.resolve(statusJson(current.status()))
            } catch (e: Exception) {
                call.reject("the tailnet node's status: ${e.message}", "STATUS_FAILED", e)
            }
        }
    }

    @PluginMethod
    fun discover(call: PluginCall) {
        val port = call.getInt("port")
        val timeoutMillis = call.getInt("timeoutMillis") ?: DISCOVER_TIMEOUT_MS
        if (port == null || port !in 1..65535 || timeoutMillis !in 1..60_000) {
            call.reject("discover needs a port (1-65535) and timeoutMillis (1-60000)", "BAD_ARGUMENT")
            return
        }
        calls.execute {
            val current = node
            if (current == null) {
                call.reject("this phone's tailnet node is not started", "NOT_STARTED")
                return@execute
            }
            try {
                val found = JSArray(current.discover(port.toLong(), timeoutMillis.toLong()))
                call.resolve(JSObject().put("computers", found))
            } catch (e: Exception) {
                call.reject("discovery failed: ${e.message}", "DISCOVER_FAILED", e)
            }
        }
    }

    @PluginMethod
    fun open(call: PluginCall) {
        val url = call.getString("url")
        val origin = computerOriginOf(url, bridge.appUrl)
        if (url == null || origin == null) {
            call.reject("open needs a computer's https:// URL, got ${url ?: "none"}", "BAD_URL")
            return
        }
        if (proxyPort == 0) {
            call.reject("this phone's tailnet node is not started", "NOT_STARTED")
            return
        }
        remember(origin)
        bridge.executeOnMainThread {
            if (!pages.supported) {
                call.reject("this phone's Android System WebView is too old for Handoff's sign-in: update it from the Play Store", "WEBVIEW_TOO_OLD")
                return@executeOnMainThread
            }
            askForNotifications()
            pages.allow(listOf(origin))
            bridge.webView.loadUrl(url)
            call.resolve()
        }
        events.watch(listOf(origin))
        events.poke()
    }

    @PluginMethod
    fun home(call: PluginCall) {
        bridge.executeOnMainThread {
            bridge.webView.loadUrl(bridge.appUrl)
            call.resolve()
        }
    }

    /** Computers opened once stay in the web view; anything else is left to Capacitor (the browser). */
    override fun shouldOverrideLoad(url: Uri): Boolean? {
        val origin = originOf(url.toString()) ?: return null
        return if (origin.startsWith("https://") && origin in computers()) false else null
    }

    /** A notification's tap (also the intent the app was launched with): its computer's page. */
    override fun handleOnNewIntent(intent: Intent) {
        if (intent.action != Notifications.ACTION_OPEN) return
        val link = intent.data ?: return
        val origin = originOf(link.toString())
        if (link.scheme != "https" || origin == null || origin !in computers()) return
        pendingLink.set(link)
        openPendingLink()
    }

    override fun handleOnResume() {
        foreground = true
        if (::events.isInitialized) events.poke()
    }

    override fun handleOnPause() {
        foreground = false
    }

    override fun handleOnDestroy() {
        if (::events.isInitialized) events.stop()
        lifecycle.execute { stopNode() }
    }

    /** Starts the node with [wanted] unless it already runs with them (a new auth key always restarts it). */
    private fun startNode(wanted: Settings, authKey: String): Status {
        val running = node
        if (running != null && settings == wanted && authKey.isEmpty()) return running.status()
        stopNode()
        val stateDir = File(context.filesDir, "tailnet").apply { mkdirs() }
        // Go cannot list interfaces itself on Android 11 and later.
        Bridge.setInterfaceLister(AndroidInterfaces)
        val started = Node(stateDir.path, wanted.hostname, wanted.controlURL, false)
        try {
            started.start(authKey)
            val address = started.startProxy(0)
            val port = address.substringAfterLast(':').toInt()
            useProxy(port)
            node = started
            settings = wanted
            proxyPort = port
        } catch (e: Exception) {
            runCatching { started.stop() }
            throw e
        }
        prefs.edit().putString("hostname", wanted.hostname).putString("controlURL", wanted.controlURL).apply()
        events.proxyPort = proxyPort
        events.watch(computers())
        openPendingLink()
        return started.status()
    }

    private fun stopNode() {
        val running = node ?: return
        node = null
        proxyPort = 0
        events.proxyPort = 0
        runCatching { running.stop() }
    }

    /** Points every WebView of the app at the bridge's proxy, and waits until they use it. */
    private fun useProxy(port: Int) {
        if (!WebViewFeature.isFeatureSupported(WebViewFeature.PROXY_OVERRIDE)) {
            throw IllegalStateException("this phone's Android System WebView cannot use a proxy: update it from the Play Store")
        }
        val config = ProxyConfig.Builder().addProxyRule("127.0.0.1:$port").build()
        val applied = CountDownLatch(1)
        bridge.executeOnMainThread {
            ProxyController.getInstance().setProxyOverride(config, { it.run() }, { applied.countDown() })
        }
        if (!applied.await(10, TimeUnit.SECONDS)) throw IllegalStateException("the web view did not take the bridge's proxy")
    }

    /** Opens the pending deep link once the node runs. */
    private fun openPendingLink() {
        val current = node ?: return
        if (pendingLink.get() == null) return
        calls.execute {
            try {
                current.waitRunning(RUNNING_TIMEOUT_MS)
            } catch (e: Exception) {
                return@execute // not logged in (yet): the home screen says so; the link waits for the next start
            }
            val link = pendingLink.getAndSet(null) ?: return@execute
            val origin = originOf(link.toString()) ?: return@execute
            bridge.executeOnMainThread {
                pages.allow(listOf(origin))
                bridge.webView.loadUrl(link.toString())
            }
        }
    }

    /** Shows [list] unless the user is looking at that computer's page right now. */
    private fun notify(origin: String, list: List<org.json.JSONObject>) {
        bridge.executeOnMainThread {
            if (foreground && originOf(bridge.webView.url) == origin) return@executeOnMainThread
            Notifications.post(context, origin, list)
        }
    }

    private fun askForNotifications() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return
        if (ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED) return
        if (prefs.getBoolean("askedForNotifications", false)) return
        prefs.edit().putBoolean("askedForNotifications", true).apply()
        ActivityCompat.requestPermissions(activity, arrayOf(Manifest.permission.POST_NOTIFICATIONS), NOTIFICATIONS_REQUEST)
    }

    /** The computers opened in this app, by origin. */
    private fun computers(): Set<String> = prefs.getStringSet("computers", null)?.toSet() ?: emptySet()

    private fun remember(origin: String) {
        synchronized(prefs) {
            val all = computers()
            if (origin !in all) prefs.edit().putStringSet("computers", all + origin).apply()
        }
    }

    private fun statusJson(status: Status?): JSObject =
        JSObject()
            .put("State", status?.getState() ?: "NoState")
            .put("Running", status?.getRunning() ?: false)
            .put("LoginURL", status?.getLoginURL() ?: "")
            .put("Tailnet", status?.getTailnet() ?: "")
            .put("Name", status?.getName() ?: "")
            .put("IPv4", status?.getIPv4() ?: "")
            .put("LoginName", status?.getLoginName() ?: "")

    /** handoff-pixel-8 for a Pixel 8: the node's name until start() names it. */
    private fun defaultHostname(): String {
        val model = Build.MODEL.lowercase().replace(Regex("[^a-z0-9]+"), "-").trim('-')
        return ("handoff-" + model.ifEmpty { "android" }).take(63).trimEnd('-')
    }

    private companion object {
        val HOSTNAME = Regex("^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
        const val DISCOVER_TIMEOUT_MS = 3_000
        const val RUNNING_TIMEOUT_MS = 60_000L
        const val NOTIFICATIONS_REQUEST = 7438
    }
}
