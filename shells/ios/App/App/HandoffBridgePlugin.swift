import Bridge
import Capacitor
import Foundation
import Network
import UIKit
import UserNotifications
import WebKit

/// `HandoffBridge` (web/shell-home/bridge.ts, docs/native-shells.md): this
/// phone's own tailnet node, the gomobile-bound shells/bridge
/// (Bridge.xcframework, built by shells/build-bridge).
///
/// At launch the node starts with the last settings (`start`'s, else this
/// phone's default name on Tailscale's control server) from its state in
/// Application Support, its loopback proxy starts, and the web view's data
/// store is set to use that proxy (`WKWebsiteDataStore.proxyConfigurations`,
/// iOS 17): the web view then opens `https://COMPUTER.TAILNET:PORT`
/// unchanged. `open` loads a computer's page, `home` the app's own; a computer
/// opened once may be navigated in the web view (other sites open in Safari)
/// and has its events followed for notifications (EventWatcher), whose taps
/// come back here. Only the app's own page may call `start`, `status`,
/// `discover` and `open`: Capacitor's bridge also reaches the computers' pages
/// on iOS, which need none of them.
@objc(HandoffBridgePlugin)
public class HandoffBridgePlugin: CAPPlugin, CAPBridgedPlugin, NotificationHandlerProtocol {
    public let identifier = "HandoffBridgePlugin"
    public let jsName = "HandoffBridge"
    public let pluginMethods: [CAPPluginMethod] = [
        CAPPluginMethod(name: "start", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "status", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "discover", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "open", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "home", returnType: CAPPluginReturnPromise),
    ]

    private struct Settings: Equatable {
        let hostname: String
        let controlURL: String
    }

    private enum Keys {
        static let hostname = "handoff.bridge.hostname"
        static let controlURL = "handoff.bridge.controlURL"
        static let computers = "handoff.bridge.computers"
    }

    /// Starts and stops, in order.
    private let lifecycle = DispatchQueue(label: "dev.handoff.bridge.lifecycle")
    /// Calls that block on the node (status, discovery, waiting for it to run).
    private let calls = DispatchQueue(label: "dev.handoff.bridge.calls", attributes: .concurrent)
    private let state = NSLock()
    private var node: BridgeNode?
    private var settings: Settings?
    private var proxyPort = 0
    private var pendingLink: URL?
    private var defaultHostname = "handoff-iphone"
    private let watcher = EventWatcher()

    override public func load() {
        bridge?.notificationRouter.localNotificationHandler = self
        watcher.deliver = { [weak self] origin, events in
            self?.notify(origin: origin, events: events)
        }
        let model = UIDevice.current.model.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
        defaultHostname = "handoff-" + (model.isEmpty ? "iphone" : model)
        NotificationCenter.default.addObserver(self, selector: #selector(enteringForeground), name: UIApplication.willEnterForegroundNotification, object: nil)
        let defaults = UserDefaults.standard
        let saved = Settings(
            hostname: defaults.string(forKey: Keys.hostname) ?? defaultHostname,
            controlURL: defaults.string(forKey: Keys.controlURL) ?? ""
        )
        lifecycle.async {
            // A failure leaves the node not started: status() says so, start() says why.
            _ = try? self.startNode(saved, authKey: "")
        }
    }

    @objc func start(_ call: CAPPluginCall) {
        guard fromAppPage(call) else { return }
        let hostname = (call.getString("hostname") ?? "").trimmingCharacters(in: .whitespaces)
        let controlURL = (call.getString("controlURL") ?? "").trimmingCharacters(in: .whitespaces)
        let authKey = (call.getString("authKey") ?? "").trimmingCharacters(in: .whitespaces)
        guard hostname.range(of: "^[A-Za-z0-9][A-Za-z0-9-]{0,62}$", options: .regularExpression) != nil else {
            call.reject("hostname must be 1 to 63 letters, digits or dashes, got \"\(hostname)\"", "BAD_ARGUMENT")
            return
        }
        guard controlURL.isEmpty || controlURL.hasPrefix("https://") || controlURL.hasPrefix("http://") else {
            call.reject("controlURL must be an http(s) URL (Headscale's), or left out for Tailscale's", "BAD_ARGUMENT")
            return
        }
        lifecycle.async {
            do {
                let status = try self.startNode(Settings(hostname: hostname, controlURL: controlURL), authKey: authKey)
                call.resolve(self.statusJSON(status))
            } catch {
                call.reject("the tailnet node did not start: \(error.localizedDescription)", "START_FAILED")
            }
        }
    }

    @objc func status(_ call: CAPPluginCall) {
        guard fromAppPage(call) else { return }
        calls.async {
            guard let node = self.currentNode() else {
                call.resolve(self.statusJSON(nil))
                return
            }
            do {
                let status = try node.status()
                call.resolve(self.statusJSON(status))
            } catch {
                call.reject("the tailnet node's status: \(error.localizedDescription)", "STATUS_FAILED")
            }
        }
    }

    @objc func discover(_ call: CAPPluginCall) {
        guard fromAppPage(call) else { return }
        guard let port = call.getInt("port"), (1...65535).contains(port) else {
            call.reject("discover needs a port (1-65535)", "BAD_ARGUMENT")
            return
        }
        let timeoutMillis = call.getInt("timeoutMillis") ?? 3000
        guard (1...60000).contains(timeoutMillis) else {
            call.reject("timeoutMillis must be 1-60000", "BAD_ARGUMENT")
            return
        }
        calls.async {
            guard let node = self.currentNode() else {
                call.reject("this phone's tailnet node is not started", "NOT_STARTED")
                return
            }
            do {
                let json = try node.discover(port, timeoutMillis: timeoutMillis)
                let computers = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? []
                call.resolve(["computers": computers])
            } catch {
                call.reject("discovery failed: \(error.localizedDescription)", "DISCOVER_FAILED")
            }
        }
    }

    @objc func open(_ call: CAPPluginCall) {
        guard fromAppPage(call) else { return }
        guard let raw = call.getString("url"), let url = URL(string: raw), let origin = computerOriginOf(url) else {
            call.reject("open needs a computer's https:// URL, got \(call.getString("url") ?? "none")", "BAD_URL")
            return
        }
        guard currentProxyPort() > 0 else {
            call.reject("this phone's tailnet node is not started", "NOT_STARTED")
            return
        }
        remember(origin)
        askForNotifications()
        watcher.watch(origins: computers())
        DispatchQueue.main.async {
            self.bridge?.webView?.load(URLRequest(url: url))
            call.resolve()
        }
    }

    @objc func home(_ call: CAPPluginCall) {
        DispatchQueue.main.async {
            if let bridge = self.bridge {
                bridge.webView?.load(URLRequest(url: bridge.config.appStartServerURL))
            }
            call.resolve()
        }
    }

    /// Computers opened once stay in the web view; anything else is left to Capacitor (Safari).
    override public func shouldOverrideLoad(_ navigationAction: WKNavigationAction) -> NSNumber? {
        guard let origin = computerOriginOf(navigationAction.request.url), computers().contains(origin) else {
            return nil
        }
        return NSNumber(value: false)
    }

    // MARK: Notifications (Capacitor's notification router hands local notifications here)

    public func willPresent(notification: UNNotification) -> UNNotificationPresentationOptions {
        let origin = notification.request.content.threadIdentifier
        let shown = onMain { self.showing(origin) }
        return shown ? [] : [.banner, .list, .sound]
    }

    /// A notification's tap: its computer's page, once the node runs.
    public func didReceive(response: UNNotificationResponse) {
        guard let raw = response.notification.request.content.userInfo["url"] as? String,
              let link = URL(string: raw),
              let origin = computerOriginOf(link),
              computers().contains(origin)
        else {
            return
        }
        state.withLock { pendingLink = link }
        openPendingLink()
    }

    @objc private func enteringForeground() {
        // iOS ends the streams of an app in the background: follow them again.
        let port = currentProxyPort()
        if port > 0 {
            watcher.restart(origins: computers(), proxyPort: port)
        }
    }

    // MARK: The node

    /// Starts the node with `wanted` unless it already runs with them (a new auth key always restarts it).
    private func startNode(_ wanted: Settings, authKey: String) throws -> BridgeStatus {
        let (running, current) = state.withLock { (node, settings) }
        if let running, current == wanted, authKey.isEmpty {
            return try running.status()
        }
        stopNode()
        let stateDir = try stateDirectory()
        guard let started = BridgeNewNode(stateDir.path, wanted.hostname, wanted.controlURL, false) else {
            throw BridgeError(message: "the tailnet node could not be made")
        }
        let port: UInt16
        do {
            try started.start(authKey)
            let address = try started.startProxy(0)
            guard let parsed = address.split(separator: ":").last.flatMap({ UInt16($0) }), parsed > 0 else {
                throw BridgeError(message: "the bridge's proxy gave no port: \(address)")
            }
            port = parsed
            try useProxy(port)
        } catch {
            try? started.stop()
            throw error
        }
        state.withLock {
            node = started
            settings = wanted
            proxyPort = Int(port)
        }
        UserDefaults.standard.set(wanted.hostname, forKey: Keys.hostname)
        UserDefaults.standard.set(wanted.controlURL, forKey: Keys.controlURL)
        watcher.restart(origins: computers(), proxyPort: Int(port))
        openPendingLink()
        return try started.status()
    }

    private func stopNode() {
        let running: BridgeNode? = state.withLock {
            let running = node
            node = nil
            settings = nil
            proxyPort = 0
            return running
        }
        watcher.stop()
        try? running?.stop()
    }

    /// Points the web view's data store at the bridge's proxy: HTTP CONNECT on loopback, no way around it.
    private func useProxy(_ port: UInt16) throws {
        guard let endpointPort = NWEndpoint.Port(rawValue: port) else {
            throw BridgeError(message: "the bridge's proxy port \(port) is not a port")
        }
        var proxy = ProxyConfiguration(httpCONNECTProxy: .hostPort(host: "127.0.0.1", port: endpointPort))
        proxy.allowFailover = false
        onMain {
            WKWebsiteDataStore.default().proxyConfigurations = [proxy]
        }
    }

    /// The node's keys and login: Application Support/tailnet, kept out of backups (a restored copy would be a clone of this node).
    private func stateDirectory() throws -> URL {
        var dir = try FileManager.default
            .url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("tailnet", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try dir.setResourceValues(values)
        return dir
    }

    /// Opens the pending deep link once the node runs.
    private func openPendingLink() {
        guard let node = currentNode(), state.withLock({ pendingLink != nil }) else {
            return
        }
        calls.async {
            do {
                try node.waitRunning(60000)
            } catch {
                return // not logged in (yet): the home screen says so; the link waits for the next start
            }
            let link: URL? = self.state.withLock {
                let link = self.pendingLink
                self.pendingLink = nil
                return link
            }
            guard let link else {
                return
            }
            DispatchQueue.main.async {
                self.bridge?.webView?.load(URLRequest(url: link))
            }
        }
    }

    // MARK: Helpers

    /// Whether the call comes from the app's own page; refuses it otherwise.
    private func fromAppPage(_ call: CAPPluginCall) -> Bool {
        let ownPage = onMain { () -> Bool in
            guard let bridge = self.bridge else {
                return false
            }
            return originOf(bridge.webView?.url) == originOf(bridge.config.serverURL)
        }
        if !ownPage {
            call.reject("only the app's home screen may use HandoffBridge.\(call.methodName)", "NOT_ALLOWED")
        }
        return ownPage
    }

    /// Whether the user is looking at `origin`'s page right now (main thread).
    private func showing(_ origin: String) -> Bool {
        UIApplication.shared.applicationState == .active && originOf(bridge?.webView?.url) == origin
    }

    private func notify(origin: String, events: [[String: Any]]) {
        if onMain({ self.showing(origin) }) {
            return
        }
        Notifications.post(origin: origin, events: events)
    }

    private func askForNotifications() {
        UNUserNotificationCenter.current().requestAuthorization(options: [.alert, .sound, .badge]) { _, _ in }
    }

    private func currentNode() -> BridgeNode? {
        state.withLock { node }
    }

    private func currentProxyPort() -> Int {
        state.withLock { proxyPort }
    }

    /// The computers opened in this app, by origin.
    private func computers() -> Set<String> {
        Set(UserDefaults.standard.stringArray(forKey: Keys.computers) ?? [])
    }

    private func remember(_ origin: String) {
        state.withLock {
            var all = UserDefaults.standard.stringArray(forKey: Keys.computers) ?? []
            if !all.contains(origin) {
                all.append(origin)
                UserDefaults.standard.set(all, forKey: Keys.computers)
            }
        }
    }

    private func statusJSON(_ status: BridgeStatus?) -> [String: Any] {
        [
            "State": status?.state ?? "NoState",
            "Running": status?.running ?? false,
            "LoginURL": status?.loginURL ?? "",
            "Tailnet": status?.tailnet ?? "",
            "Name": status?.name ?? "",
            "IPv4": status?.iPv4 ?? "",
            "LoginName": status?.loginName ?? "",
        ]
    }
}

struct BridgeError: LocalizedError {
    let message: String
    var errorDescription: String? { message }
}
