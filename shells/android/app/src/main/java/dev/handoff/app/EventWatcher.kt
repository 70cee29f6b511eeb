package dev.handoff.app

import android.content.Context
import android.webkit.CookieManager
import org.json.JSONException
import org.json.JSONObject
import java.io.IOException
import java.net.HttpURLConnection
import java.net.InetSocketAddress
import java.net.Proxy
import java.net.URL
import kotlin.concurrent.thread

/**
 * The computers' event streams, held while the app runs (docs/native-shells.md,
 * Notifications): Android's WebView has no Web Push, so the shell follows
 * `GET /api/events` of every computer opened in it, through the bridge's
 * proxy and with the session cookie the web view holds for that computer, and
 * hands each new event to [deliver]. A computer the phone is not signed in to
 * (no cookie, or one it refuses with 401 or 403) is asked again only once the
 * web view holds another cookie for it (looked at locally every few seconds:
 * no refused requests piling up in the computer's audit log); one that cannot
 * be reached is tried again from 5 s up to a minute apart, or at once on
 * [poke] (the app coming back, the computer opened again). Events missed
 * while the app was stopped come in one batch, the ones after the last id
 * seen.
 */
class EventWatcher(
    context: Context,
    private val deliver: (origin: String, events: List<JSONObject>) -> Unit,
) {
    private val prefs = context.applicationContext.getSharedPreferences("handoff-events", Context.MODE_PRIVATE)
    private val lock = java.lang.Object()
    private val watched = HashSet<String>()
    private val connections = HashSet<HttpURLConnection>()
    private var pokes = 0L
    private var stopped = false

    /** The bridge's proxy port, 0 while there is none. */
    @Volatile
    var proxyPort = 0
        set(value) {
            field = value
            poke()
        }

    /** Follows the event stream of each of [origins] not yet followed. */
    fun watch(origins: Collection<String>) {
        synchronized(lock) {
            if (stopped) return
            for (origin in origins) {
                if (watched.add(origin)) thread(name = "handoff events $origin", isDaemon = true) { follow(origin) }
            }
        }
    }

    /** Ends every wait: streams that were signed out or failing try again now. */
    fun poke() {
        synchronized(lock) {
            pokes++
            lock.notifyAll()
        }
    }

    /** Closes every stream for good. */
    fun stop() {
        val closing = synchronized(lock) {
            stopped = true
            lock.notifyAll()
            connections.toList()
        }
        closing.forEach { it.disconnect() }
    }

    private enum class Outcome { ENDED, SIGNED_OUT, FAILED }

    private fun follow(origin: String) {
        var backoffMs = FIRST_RETRY_MS
        while (!isStopped()) {
            val cookie = sessionCookie(origin)
            val outcome = if (cookie == null) {
                Outcome.SIGNED_OUT
            } else {
                try {
                    stream(origin, cookie)
                } catch (e: IOException) {
                    Outcome.FAILED
                }
            }
            when (outcome) {
                Outcome.ENDED -> {
                    backoffMs = FIRST_RETRY_MS
                    waitForPoke(RECONNECT_MS)
                }
                Outcome.SIGNED_OUT -> waitForCookieOtherThan(origin, cookie)
                Outcome.FAILED -> {
                    waitForPoke(backoffMs)
                    backoffMs = minOf(backoffMs * 2, LAST_RETRY_MS)
                }
            }
        }
    }

    private fun stream(origin: String, cookie: String): Outcome {
        val port = proxyPort
        if (port == 0) return Outcome.FAILED
        val since = prefs.getLong(origin, -1)
        val url = URL(origin + "/api/events" + if (since >= 0) "?since=$since" else "")
        // The proxy resolves the computer's name on the tailnet: CONNECT NAME:PORT, then TLS to the computer.
        val connection = url.openConnection(Proxy(Proxy.Type.HTTP, InetSocketAddress("127.0.0.1", port))) as HttpURLConnection
        synchronized(lock) {
            if (stopped) return Outcome.ENDED
            connections.add(connection)
        }
        try {
            connection.connectTimeout = CONNECT_TIMEOUT_MS
            connection.readTimeout = READ_TIMEOUT_MS // the server writes a heartbeat every 15 s
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            connection.setRequestProperty("Accept", "text/event-stream")
            connection.setRequestProperty("Cookie", cookie)
            when (connection.responseCode) {
                HttpURLConnection.HTTP_OK -> Unit
                HttpURLConnection.HTTP_UNAUTHORIZED, HttpURLConnection.HTTP_FORBIDDEN -> return Outcome.SIGNED_OUT
                else -> return Outcome.FAILED
            }
            read(origin, connection)
            return Outcome.ENDED
        } finally {
            synchronized(lock) { connections.remove(connection) }
            connection.disconnect()
        }
    }

    /** Server-sent events: stored ones after `since`, then `ready`, then live ones (server/events/routes.ts). */
    private fun read(origin: String, connection: HttpURLConnection) {
        val reader = connection.inputStream.bufferedReader(Charsets.UTF_8)
        var name = ""
        val data = StringBuilder()
        val missed = ArrayList<JSONObject>()
        var ready = false
        while (!isStopped()) {
            val line = reader.readLine() ?: return
            if (line.isEmpty()) {
                if (data.isNotEmpty()) {
                    val body = try {
                        JSONObject(data.toString())
                    } catch (e: JSONException) {
                        null
                    }
                    when {
                        body == null -> Unit
                        name == "ready" -> {
                            remember(origin, body.optLong("last_id", -1))
                            if (missed.isNotEmpty()) deliver(origin, missed.toList())
                            missed.clear()
                            ready = true
                        }
                        name == "" || name == "message" -> {
                            if (ready) deliver(origin, listOf(body)) else missed.add(body)
                            remember(origin, body.optLong("id", -1))
                        }
                    }
                }
                name = ""
                data.setLength(0)
                continue
            }
            if (line.startsWith(":")) continue // a heartbeat
            val field = line.substringBefore(':')
            val value = line.substringAfter(':', "").removePrefix(" ")
            when (field) {
                "event" -> name = value
                "data" -> {
                    if (data.isNotEmpty()) data.append('\n')
                    data.append(value)
                }
            }
        }
    }

    private fun remember(origin: String, lastId: Long) {
        if (lastId > prefs.getLong(origin, -1)) prefs.edit().putLong(origin, lastId).apply()
    }

    /** `__Host-handoff=TOKEN`, the computer's session cookie as the web view holds it, or null when signed out. */
    private fun sessionCookie(origin: String): String? =
        CookieManager.getInstance().getCookie(origin)
            ?.split(';')
            ?.map { it.trim() }
            ?.firstOrNull { it.startsWith("$SESSION_COOKIE=") && it.length > SESSION_COOKIE.length + 1 }

    private fun isStopped(): Boolean = synchronized(lock) { stopped }

    /** Waits until the web view holds a session cookie for [origin] that is not [refused] (a sign-in). */
    private fun waitForCookieOtherThan(origin: String, refused: String?) {
        while (!isStopped()) {
            val now = sessionCookie(origin)
            if (now != null && now != refused) return
            synchronized(lock) {
                if (!stopped) lock.wait(COOKIE_CHECK_MS)
            }
        }
    }

    private fun waitForPoke(ms: Long) {
        synchronized(lock) {
            val seen = pokes
            val deadline = System.currentTimeMillis() + ms
            while (!stopped && pokes == seen) {
                val left = deadline - System.currentTimeMillis()
                if (left <= 0) return
                lock.wait(left)
            }
        }
    }

    private companion object {
        /** The cookie `handoff serve` sets over HTTPS (server/auth/routes.ts). */
        const val SESSION_COOKIE = "__Host-handoff"
        const val CONNECT_TIMEOUT_MS = 20_000
        const val READ_TIMEOUT_MS = 45_000
        const val FIRST_RETRY_MS = 5_000L
        const val LAST_RETRY_MS = 60_000L
        const val RECONNECT_MS = 1_000L
        const val COOKIE_CHECK_MS = 3_000L
    }
}
