import Capacitor
import CryptoKit
import Foundation
import LocalAuthentication
import Security

/// `HandoffDeviceKey` (web/shell/device-key.ts, docs/auth.md "The native
/// shells' device key"): `pair({challenge})` makes this computer's key and
/// signs the pairing message; `signIn({challenge})` signs a sign-in with the
/// next count. The computer is the origin of the web view's current page,
/// read here, never taken from the page; the page gives only the challenge.
@objc(HandoffDeviceKeyPlugin)
public class HandoffDeviceKeyPlugin: CAPPlugin, CAPBridgedPlugin {
    public let identifier = "HandoffDeviceKeyPlugin"
    public let jsName = "HandoffDeviceKey"
    public let pluginMethods: [CAPPluginMethod] = [
        CAPPluginMethod(name: "pair", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "signIn", returnType: CAPPluginReturnPromise),
    ]

    private let keys = DeviceKeys()

    @objc func pair(_ call: CAPPluginCall) {
        ceremony(call) { keys, origin, challenge in
            try await keys.pair(origin: origin, challenge: challenge)
        }
    }

    @objc func signIn(_ call: CAPPluginCall) {
        ceremony(call) { keys, origin, challenge in
            try await keys.signIn(origin: origin, challenge: challenge)
        }
    }

    private func ceremony(_ call: CAPPluginCall, _ run: @escaping (DeviceKeys, String, String) async throws -> [String: Any]) {
        guard let challenge = call.getString("challenge"), DeviceKeys.isChallenge(challenge) else {
            call.reject("the challenge must be the server's (base64url, 16 to 512 characters)", "BAD_CHALLENGE")
            return
        }
        let page = onMain { self.bridge?.webView?.url }
        guard let origin = computerOriginOf(page) else {
            call.reject("the device key signs only for a computer's page (https), not for \(originOf(page) ?? "this page")", "NOT_A_COMPUTER")
            return
        }
        let keys = self.keys
        Task {
            do {
                let answer = try await run(keys, origin, challenge)
                call.resolve(answer)
            } catch let error as DeviceKeyError {
                call.reject(error.message, error.code)
            } catch {
                call.reject(error.localizedDescription, "DEVICE_KEY_FAILED")
            }
        }
    }
}

/// A device-key failure, as the page sees it: an error with this code and message.
struct DeviceKeyError: Error {
    let code: String
    let message: String
}

/// The device keys: one P-256 key per computer origin in the Secure Enclave,
/// usable only after Face ID or Touch ID with the biometrics enrolled when it
/// was made (`.biometryCurrentSet`); its `dataRepresentation` (a blob only this
/// phone's Secure Enclave can use) and the per-origin sign-in count are kept in
/// the Keychain, this device only, so they survive a reinstall together.
final class DeviceKeys {
    private static let service = "dev.handoff.app.device-key"
    private let counterLock = NSLock()

    /// The server's challenges are base64url; anything else (a newline above all) is refused.
    static func isChallenge(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return (16...512).contains(bytes.count) && bytes.allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
        }
    }

    /// A new key for `origin` and the pairing message signed with it; the older key is replaced only once this one has signed.
    func pair(origin: String, challenge: String) async throws -> [String: Any] {
        let access = try accessControl()
        let context = try await authenticate(access, reason: "Pair this phone with \(hostOf(origin))")
        let key: SecureEnclave.P256.Signing.PrivateKey
        do {
            key = try SecureEnclave.P256.Signing.PrivateKey(compactRepresentable: false, accessControl: access, authenticationContext: context)
        } catch {
            throw DeviceKeyError(code: "DEVICE_KEY_FAILED", message: "the Secure Enclave made no key: \(error.localizedDescription)")
        }
        let signature = try sign(key, "handoff device-key pair v1\n\(origin)\n\(challenge)")
        try save(key.dataRepresentation, account: "key \(origin)")
        return [
            "publicKey": base64url(key.publicKey.derRepresentation),
            "signature": base64url(signature.rawRepresentation),
            "signatureFormat": "p1363",
        ]
    }

    /// The next count for `origin`, saved before anything is signed, then the sign-in message signed with its key.
    func signIn(origin: String, challenge: String) async throws -> [String: Any] {
        guard let blob = try load(account: "key \(origin)") else {
            throw DeviceKeyError(code: "NO_KEY", message: "this phone has no device key for \(origin): pair it first (handoff pair on the computer)")
        }
        let access = try accessControl()
        let counter = try nextCounter(origin)
        let context = try await authenticate(access, reason: "Sign in to \(hostOf(origin))")
        let key: SecureEnclave.P256.Signing.PrivateKey
        do {
            key = try SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: blob, authenticationContext: context)
        } catch {
            throw DeviceKeyError(code: "KEY_INVALIDATED", message: "the device key for \(origin) cannot be used on this phone any more: pair again")
        }
        let spki = key.publicKey.derRepresentation
        let signature = try sign(key, "handoff device-key sign-in v1\n\(origin)\n\(challenge)\n\(counter)")
        return [
            "keyId": base64url(Data(SHA256.hash(data: spki))),
            "counter": counter,
            "signature": base64url(signature.rawRepresentation),
            "signatureFormat": "p1363",
        ]
    }

    /// Keys in the Secure Enclave that sign only for the biometrics enrolled now.
    private func accessControl() throws -> SecAccessControl {
        guard SecureEnclave.isAvailable else {
            throw DeviceKeyError(code: "BIOMETRIC_UNAVAILABLE", message: "this device has no Secure Enclave for the device key")
        }
        var failure: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(nil, kSecAttrAccessibleWhenUnlockedThisDeviceOnly, [.privateKeyUsage, .biometryCurrentSet], &failure) else {
            let reason = failure?.takeRetainedValue().localizedDescription ?? "unknown"
            throw DeviceKeyError(code: "DEVICE_KEY_FAILED", message: "no access control for the device key: \(reason)")
        }
        return access
    }

    /// Face ID or Touch ID for one signature with a key under `access`; the context then signs without asking again.
    private func authenticate(_ access: SecAccessControl, reason: String) async throws -> LAContext {
        let context = LAContext()
        context.localizedCancelTitle = "Cancel"
        do {
            _ = try await context.evaluateAccessControl(access, operation: .useKeySign, localizedReason: reason)
        } catch let error as LAError {
            switch error.code {
            case .userCancel, .appCancel, .systemCancel, .userFallback:
                throw DeviceKeyError(code: "CANCELLED", message: "cancelled")
            case .biometryNotEnrolled, .biometryNotAvailable, .passcodeNotSet:
                throw DeviceKeyError(code: "BIOMETRIC_UNAVAILABLE", message: "set up Face ID or Touch ID on this phone first")
            default:
                throw DeviceKeyError(code: "BIOMETRIC_FAILED", message: error.localizedDescription)
            }
        }
        return context
    }

    private func sign(_ key: SecureEnclave.P256.Signing.PrivateKey, _ message: String) throws -> P256.Signing.ECDSASignature {
        do {
            return try key.signature(for: Data(message.utf8))
        } catch {
            throw DeviceKeyError(
                code: "SIGN_FAILED",
                message: "the Secure Enclave did not sign (a change of Face ID or Touch ID since pairing voids the key: pair again): \(error.localizedDescription)"
            )
        }
    }

    private func nextCounter(_ origin: String) throws -> Int {
        counterLock.lock()
        defer { counterLock.unlock() }
        let account = "counter \(origin)"
        let current = try load(account: account).flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
        let next = current + 1
        try save(Data(String(next).utf8), account: account)
        return next
    }

    private func load(account: String) throws -> Data? {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: Self.service,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        if status == errSecItemNotFound {
            return nil
        }
        guard status == errSecSuccess, let data = item as? Data else {
            throw DeviceKeyError(code: "STORAGE_FAILED", message: "the Keychain did not read \(account) (\(status))")
        }
        return data
    }

    private func save(_ data: Data, account: String) throws {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: Self.service,
            kSecAttrAccount as String: account,
        ]
        var status = SecItemUpdate(query as CFDictionary, [kSecValueData as String: data] as CFDictionary)
        if status == errSecItemNotFound {
            var item = query
            item[kSecValueData as String] = data
            item[kSecAttrAccessible as String] = kSecAttrAccessibleWhenUnlockedThisDeviceOnly
            status = SecItemAdd(item as CFDictionary, nil)
        }
        guard status == errSecSuccess else {
            throw DeviceKeyError(code: "STORAGE_FAILED", message: "the Keychain did not save \(account) (\(status))")
        }
    }

    private func hostOf(_ origin: String) -> String {
        URL(string: origin)?.host ?? origin
    }
}

/// Base64url without padding, as the server reads keys and signatures.
func base64url(_ data: Data) -> String {
    data.base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
