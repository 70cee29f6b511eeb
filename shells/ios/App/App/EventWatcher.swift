import Foundation
import Network
import WebKit

/// The computers' event streams, held while the app is in the foreground
/// (docs/native-shells.md, Notifications): an app's WKWebView has no Web Push,
/// so the shell follows `GET /api/events` of every computer opened in it,
/// through the bridge's proxy and with the session cookie the web view holds
/// for that computer, and hands each new event to `deliver`. A computer the
/// phone is not signed in to (no cookie, or one it refuses with 401 or 403) is
/// asked again only once the web view holds another cookie for it (looked at
/// locally every few seconds, so no refused requests pile up in the
/// computer's audit log); one that cannot be reached is tried again from 5 s
/// up to a minute apart. iOS ends these streams soon after the app leaves the
/// screen; `restart` follows them again when it comes back, and the events
/// missed meanwhile (after the last id seen) come in one batch.
final class EventWatcher {
    private enum Outcome {
        case ended, signedOut, failed
    }

    /// The cookie `handoff serve` sets over HTTPS (server/auth/routes.ts).
    private static let sessionCookie = "__Host-handoff"

    /// Where new events go: set once, before the first stream.
    var deliver: ((String, [[String: Any]]) -> Void)?
    private let lock = NSLock()
    private var tasks: [String: Task<Void, Never>] = [:]
    private var proxyPort = 0

    /// Follows each of `origins` not yet followed.
    func watch(origins: Set<String>) {
        lock.withLock {
            guard proxyPort > 0 else {
                return
            }
            for origin in origins where tasks[origin] == nil {
                tasks[origin] = follow(origin, port: proxyPort)
            }
        }
    }

    /// Ends every stream and follows `origins` again through the proxy on `proxyPort`.
    func restart(origins: Set<String>, proxyPort: Int) {
        lock.withLock {
            tasks.values.forEach { $0.cancel() }
            tasks = [:]
            self.proxyPort = proxyPort
            for origin in origins {
                tasks[origin] = follow(origin, port: proxyPort)
            }
        }
    }

    /// Ends every stream until the next `restart`.
    func stop() {
        lock.withLock {
            tasks.values.forEach { $0.cancel() }
            tasks = [:]
            proxyPort = 0
        }
    }

    private func follow(_ origin: String, port: Int) -> Task<Void, Never> {
        Task.detached { [weak self] in
            var backoff: UInt64 = 5
            var refused: String?
            while !Task.isCancelled {
                guard let self else {
                    return
                }
                guard let cookie = await self.cookie(for: origin), cookie != refused else {
                    try? await Task.sleep(nanoseconds: 3 * NSEC_PER_SEC)
                    continue
                }
                switch await self.stream(origin, port: port, cookie: cookie) {
                case .ended:
                    backoff = 5
                    try? await Task.sleep(nanoseconds: NSEC_PER_SEC)
                case .signedOut:
                    refused = cookie
                case .failed:
                    try? await Task.sleep(nanoseconds: backoff * NSEC_PER_SEC)
                    backoff = min(backoff * 2, 60)
                }
            }
        }
    }

    /// Server-sent events: stored ones after `since`, then `ready`, then live ones (server/events/routes.ts).
    private func stream(_ origin: String, port: Int, cookie: String) async -> Outcome {
        let lastIdKey = "handoff.events.last \(origin)"
        guard var components = URLComponents(string: origin + "/api/events"),
              let proxyPort = UInt16(exactly: port).flatMap({ NWEndpoint.Port(rawValue: $0) })
        else {
            return .failed
        }
        if let since = UserDefaults.standard.object(forKey: lastIdKey) as? Int {
            components.queryItems = [URLQueryItem(name: "since", value: String(since))]
        }
        guard let url = components.url else {
            return .failed
        }
        // The proxy resolves the computer's name on the tailnet: CONNECT NAME:PORT, then TLS to the computer.
        var proxy = ProxyConfiguration(httpCONNECTProxy: .hostPort(host: "127.0.0.1", port: proxyPort))
        proxy.allowFailover = false
        let configuration = URLSessionConfiguration.ephemeral
        configuration.proxyConfigurations = [proxy]
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.timeoutIntervalForRequest = 45 // the server writes a heartbeat every 15 s
        let session = URLSession(configuration: configuration)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url)
        request.setValue("text/event-stream", forHTTPHeaderField: "Accept")
        request.setValue(cookie, forHTTPHeaderField: "Cookie")

        do {
            let (bytes, response) = try await session.bytes(for: request)
            switch (response as? HTTPURLResponse)?.statusCode {
            case 200:
                break
            case 401, 403:
                return .signedOut
            default:
                return .failed
            }
            var name = ""
            var data = ""
            var missed: [[String: Any]] = []
            var ready = false
            var line = Data()
            for try await byte in bytes {
                if byte == UInt8(ascii: "\r") {
                    continue
                }
                if byte != UInt8(ascii: "\n") {
                    line.append(byte)
                    continue
                }
                let text = String(decoding: line, as: UTF8.self)
                line.removeAll(keepingCapacity: true)
                if text.isEmpty {
                    // The end of one event.
                    if !data.isEmpty, let body = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] {
                        if name == "ready" {
                            remember(lastIdKey, body["last_id"] as? Int)
                            if !missed.isEmpty {
                                deliver?(origin, missed)
                            }
                            missed = []
                            ready = true
                        } else if name.isEmpty || name == "message" {
                            if ready {
                                deliver?(origin, [body])
                            } else {
                                missed.append(body)
                            }
                            remember(lastIdKey, body["id"] as? Int)
                        }
                    }
                    name = ""
                    data = ""
                    continue
                }
                if text.hasPrefix(":") {
                    continue // a heartbeat
                }
                let field = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                var value = field.count > 1 ? String(field[1]) : ""
                if value.hasPrefix(" ") {
                    value.removeFirst()
                }
                switch field[0] {
                case "event":
                    name = value
                case "data":
                    data += data.isEmpty ? value : "\n" + value
                default:
                    break
                }
            }
            return .ended
        } catch {
            return .failed
        }
    }

    private func remember(_ key: String, _ lastId: Int?) {
        guard let lastId, lastId > (UserDefaults.standard.object(forKey: key) as? Int ?? -1) else {
            return
        }
        UserDefaults.standard.set(lastId, forKey: key)
    }

    /// `__Host-handoff=TOKEN`, the computer's session cookie as the web view holds it, or nil when signed out.
    private func cookie(for origin: String) async -> String? {
        guard let host = URL(string: origin)?.host?.lowercased() else {
            return nil
        }
        let cookies: [HTTPCookie] = await withCheckedContinuation { done in
            DispatchQueue.main.async {
                WKWebsiteDataStore.default().httpCookieStore.getAllCookies { cookies in
                    done.resume(returning: cookies)
                }
            }
        }
        let now = Date()
        let session = cookies.first { cookie in
            cookie.name == Self.sessionCookie && cookie.domain.lowercased() == host && (cookie.expiresDate.map { $0 > now } ?? true)
        }
        guard let session, !session.value.isEmpty else {
            return nil
        }
        return "\(session.name)=\(session.value)"
    }
}
