package dev.handoff.app

import java.net.URI
import java.net.URISyntaxException

/**
 * The origin of [url] as a browser writes it (`location.origin`): scheme,
 * host and the port unless it is the scheme's default, such as
 * `https://laptop.tail1234.ts.net:7438`; null if [url] has none.
 */
fun originOf(url: String?): String? {
    if (url == null) return null
    val uri = try {
        URI(url)
    } catch (e: URISyntaxException) {
        return null
    }
    val scheme = uri.scheme?.lowercase() ?: return null
    val host = uri.host?.lowercase() ?: return null
    val port = uri.port
    val defaultPort = when (scheme) {
        "https" -> 443
        "http" -> 80
        else -> -1
    }
    return if (port == -1 || port == defaultPort) "$scheme://$host" else "$scheme://$host:$port"
}

/** The origin of [url] if it is a computer's page: https, and not the app's own ([appUrl]). */
fun computerOriginOf(url: String?, appUrl: String?): String? {
    val origin = originOf(url) ?: return null
    return if (origin.startsWith("https://") && origin != originOf(appUrl)) origin else null
}
