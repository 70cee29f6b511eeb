package dev.handoff.app

import android.Manifest
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat
import org.json.JSONObject
import java.net.URI

/**
 * The computers' events as Android notifications, as the PWA shows Web Push
 * ones (server/events/push/payload.ts): the event's title (or its tab,
 * SESSION:WINDOW), its message, and a tap that opens its tab,
 * `https://COMPUTER:PORT/t/SESSION/WINDOW` (with `?answer=ID` when it offers
 * choices), or the computer's sessions list.
 */
object Notifications {
    /** The intent action of a notification's tap: the data is the page to open. */
    const val ACTION_OPEN = "dev.handoff.app.OPEN_EVENT"

    private const val CHANNEL = "events"

    /** Missed events past this many come as one notification. */
    private const val SEPARATE_AT_MOST = 3

    fun post(context: Context, origin: String, events: List<JSONObject>) {
        val manager = NotificationManagerCompat.from(context)
        if (events.isEmpty() || !manager.areNotificationsEnabled()) return
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU &&
            ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
        ) {
            return
        }
        ensureChannel(context)
        val host = shortName(origin)
        if (events.size > SEPARATE_AT_MOST) {
            val latest = events.last()
            show(context, manager, "$origin summary", "${events.size} events on $host", titleOf(latest), host, "$origin/")
            return
        }
        for (event in events) {
            val tab = tabOf(event)
            val tag = origin + " " + (tab?.let { "tab:${it.first}:${it.second}" } ?: "type:${event.optString("type")}")
            show(context, manager, tag, titleOf(event), event.optString("message"), host, linkOf(origin, event))
        }
    }

    private fun show(context: Context, manager: NotificationManagerCompat, tag: String, title: String, text: String, host: String, link: String) {
        val open = Intent(ACTION_OPEN, Uri.parse(link), context, MainActivity::class.java)
            .addFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP)
        val tap = PendingIntent.getActivity(context, tag.hashCode(), open, PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE)
        val notification = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_stat_handoff)
            .setContentTitle(title)
            .setContentText(text)
            .setStyle(NotificationCompat.BigTextStyle().bigText(text))
            .setSubText(host)
            .setContentIntent(tap)
            .setAutoCancel(true)
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            .setCategory(NotificationCompat.CATEGORY_MESSAGE)
            .build()
        try {
            manager.notify(tag, 0, notification)
        } catch (e: SecurityException) {
            // The notification permission was taken back meanwhile: nothing to show.
        }
    }

    private fun ensureChannel(context: Context) {
        val system = context.getSystemService(NotificationManager::class.java) ?: return
        if (system.getNotificationChannel(CHANNEL) != null) return
        val channel = NotificationChannel(CHANNEL, "Computer events", NotificationManager.IMPORTANCE_HIGH)
        channel.description = "What your computers ask of you: Claude Code waiting, a build done, a test failing"
        system.createNotificationChannel(channel)
    }

    /** The event's tab, (session, window), as the server's tabOf. */
    private fun tabOf(event: JSONObject): Pair<String, Int>? {
        val session = event.optString("tmux_session")
        val window = event.opt("tmux_window") as? Number ?: return null
        if (session.isEmpty() || window.toDouble() != window.toInt().toDouble() || window.toInt() < 0) return null
        return session to window.toInt()
    }

    private fun titleOf(event: JSONObject): String =
        event.optString("title").ifEmpty { tabOf(event)?.let { "${it.first}:${it.second}" } ?: "Handoff" }

    /** The page a tap opens: the event's tab (encoded as encodeURIComponent does), or the sessions list. */
    private fun linkOf(origin: String, event: JSONObject): String {
        val tab = tabOf(event) ?: return "$origin/"
        val answer = if ((event.optJSONArray("choices")?.length() ?: 0) > 0 && event.has("id")) "?answer=${event.optLong("id")}" else ""
        return "$origin/t/${Uri.encode(tab.first)}/${tab.second}$answer"
    }

    /** laptop for https://laptop.tail1234.ts.net:7438. */
    private fun shortName(origin: String): String {
        val host = try {
            URI(origin).host
        } catch (e: Exception) {
            null
        } ?: return origin
        return if (host.startsWith("[") || host.all { it.isDigit() || it == '.' }) host else host.substringBefore('.')
    }
}
