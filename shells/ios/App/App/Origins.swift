import Foundation

/// The origin of `url` as a browser writes it (`location.origin`): scheme,
/// host and the port unless it is the scheme's default, such as
/// `https://laptop.tail1234.ts.net:7438`; nil if `url` has none.
func originOf(_ url: URL?) -> String? {
    guard let url, let scheme = url.scheme?.lowercased(), var host = url.host?.lowercased(), !host.isEmpty else {
        return nil
    }
    if host.contains(":") && !host.hasPrefix("[") {
        host = "[\(host)]" // an IPv6 address, bracketed as in an origin
    }
    let defaultPort: Int? = scheme == "https" ? 443 : scheme == "http" ? 80 : nil
    if let port = url.port, port != defaultPort {
        return "\(scheme)://\(host):\(port)"
    }
    return "\(scheme)://\(host)"
}

/// The origin of `url` if it is a computer's page: https (the app's own page is capacitor://).
func computerOriginOf(_ url: URL?) -> String? {
    guard let origin = originOf(url), origin.hasPrefix("https://") else {
        return nil
    }
    return origin
}

/// Runs `body` on the main thread and returns its result.
func onMain<T>(_ body: () -> T) -> T {
    if Thread.isMainThread {
        return body()
    }
    return DispatchQueue.main.sync(execute: body)
}
