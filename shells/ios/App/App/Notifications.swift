import Foundation
import UserNotifications

/// The computers' events as iOS notifications, as the PWA shows Web Push ones
/// (server/events/push/payload.ts): the event's title (or its tab,
/// SESSION:WINDOW), its message, and a tap that opens its tab,
/// `https://COMPUTER:PORT/t/SESSION/WINDOW` (with `?answer=ID` when it offers
/// choices), or the computer's sessions list. A tap comes back to
/// HandoffBridgePlugin.didReceive with that page in `userInfo["url"]`.
enum Notifications {
    /// Missed events past this many come as one notification.
    private static let separateAtMost = 3

    /// encodeURIComponent's unreserved characters.
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")

    static func post(origin: String, events: [[String: Any]]) {
        guard let latest = events.last else {
            return
        }
        let host = shortName(origin)
        if events.count > separateAtMost {
            add(id: "\(origin) summary", title: "\(events.count) events on \(host)", body: title(of: latest), host: host, origin: origin, link: origin + "/")
            return
        }
        for event in events {
            let tab = tabOf(event).map { "tab:\($0.session):\($0.window)" } ?? "type:\(event["type"] as? String ?? "")"
            add(id: "\(origin) \(tab)", title: title(of: event), body: event["message"] as? String ?? "", host: host, origin: origin, link: link(origin, event))
        }
    }

    private static func add(id: String, title: String, body: String, host: String, origin: String, link: String) {
        let content = UNMutableNotificationContent()
        content.title = title
        content.subtitle = host
        content.body = body
        content.sound = .default
        content.threadIdentifier = origin
        content.userInfo = ["url": link]
        UNUserNotificationCenter.current().add(UNNotificationRequest(identifier: id, content: content, trigger: nil)) { _ in }
    }

    /// The event's tab, as the server's tabOf.
    private static func tabOf(_ event: [String: Any]) -> (session: String, window: Int)? {
        guard let session = event["tmux_session"] as? String, !session.isEmpty,
              let window = event["tmux_window"] as? Int, window >= 0
        else {
            return nil
        }
        return (session, window)
    }

    private static func title(of event: [String: Any]) -> String {
        if let title = event["title"] as? String, !title.isEmpty {
            return title
        }
        return tabOf(event).map { "\($0.session):\($0.window)" } ?? "Handoff"
    }

    /// The page a tap opens: the event's tab (encoded as encodeURIComponent does), or the sessions list.
    private static func link(_ origin: String, _ event: [String: Any]) -> String {
        guard let tab = tabOf(event), let session = tab.session.addingPercentEncoding(withAllowedCharacters: unreserved) else {
            return origin + "/"
        }
        var link = "\(origin)/t/\(session)/\(tab.window)"
        if let choices = event["choices"] as? [Any], !choices.isEmpty, let id = event["id"] as? Int {
            link += "?answer=\(id)"
        }
        return link
    }

    /// laptop for https://laptop.tail1234.ts.net:7438.
    private static func shortName(_ origin: String) -> String {
        guard let host = URL(string: origin)?.host else {
            return origin
        }
        if host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) {
            return host
        }
        return String(host.prefix { $0 != "." })
    }
}
