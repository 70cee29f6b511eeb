package dev.handoff.app

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.util.Base64
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import com.getcapacitor.JSObject
import java.net.URI
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.MessageDigest
import java.security.PrivateKey
import java.security.ProviderException
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import java.util.UUID
import java.util.concurrent.Executors

/** A device-key failure, as the page sees it: an error with this code and message. */
class DeviceKeyException(val code: String, message: String, cause: Throwable? = null) : Exception(message, cause)

/**
 * The device keys (docs/auth.md, "The native shells' device key"): one
 * ECDSA P-256 key per computer origin in the AndroidKeyStore, which signs
 * only after a strong biometric for that one signature, and the per-origin
 * count of sign-ins. The messages are built here from the origin the caller
 * read natively from the web view; the page gives only the challenge.
 */
class DeviceKeys private constructor(context: Context) {
    private val app = context.applicationContext
    private val prefs = app.getSharedPreferences("handoff-device-keys", Context.MODE_PRIVATE)
    private val keyStore: KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    /** Key generation and the counter, one request at a time. */
    private val worker = Executors.newSingleThreadExecutor()

    /**
     * Runs `pair` or `signIn` for [origin] with the page's [challenge] and
     * calls [done] with what the plugin answers (`{publicKey, signature,
     * signatureFormat}` or `{keyId, counter, signature, signatureFormat}`).
     */
    fun request(activity: FragmentActivity, origin: String, method: String, challenge: String?, done: (Result<JSObject>) -> Unit) {
        worker.execute {
            try {
                if (challenge == null || !CHALLENGE.matches(challenge)) {
                    throw DeviceKeyException("BAD_CHALLENGE", "the challenge must be the server's (base64url, 16 to 512 characters)")
                }
                when (method) {
                    "pair" -> pair(activity, origin, challenge, done)
                    "signIn" -> signIn(activity, origin, challenge, done)
                    else -> throw DeviceKeyException("UNKNOWN_METHOD", "HandoffDeviceKey has no method \"$method\"")
                }
            } catch (e: Exception) {
                done(Result.failure(asDeviceKeyException(e)))
            }
        }
    }

    /** A new key for [origin], then the pairing message signed with it; the older key goes only once this one has signed. */
    private fun pair(activity: FragmentActivity, origin: String, challenge: String, done: (Result<JSObject>) -> Unit) {
        requireBiometrics()
        val alias = "handoff-device-key:" + UUID.randomUUID()
        val spki = generate(alias)
        val message = "handoff device-key pair v1\n$origin\n$challenge"
        try {
            signThenRecord(activity, alias, origin, spki, message, done)
        } catch (e: Exception) {
            deleteQuietly(alias)
            throw e
        }
    }

    private fun signThenRecord(activity: FragmentActivity, alias: String, origin: String, spki: ByteArray, message: String, done: (Result<JSObject>) -> Unit) {
        sign(activity, alias, message, "Pair this phone with ${hostOf(origin)}") { signed ->
            val answer = signed.mapCatching { signature ->
                val older = prefs.getString(aliasKey(origin), null)
                if (!prefs.edit().putString(aliasKey(origin), alias).commit()) {
                    throw DeviceKeyException("STORAGE_FAILED", "the new device key could not be recorded")
                }
                if (older != null) deleteQuietly(older)
                JSObject()
                    .put("publicKey", base64url(spki))
                    .put("signature", base64url(signature))
                    .put("signatureFormat", "der")
            }
            if (answer.isFailure) deleteQuietly(alias)
            done(answer)
        }
    }

    /** The next count for [origin], saved before anything is signed, then the sign-in message signed with its key. */
    private fun signIn(activity: FragmentActivity, origin: String, challenge: String, done: (Result<JSObject>) -> Unit) {
        val alias = prefs.getString(aliasKey(origin), null)?.takeIf { keyStore.containsAlias(it) }
            ?: throw DeviceKeyException("NO_KEY", "this phone has no device key for $origin: pair it first (handoff pair on the computer)")
        val spki = keyStore.getCertificate(alias)?.publicKey?.encoded
            ?: throw DeviceKeyException("NO_KEY", "the device key for $origin has no public key: pair again")
        val counter = prefs.getLong(counterKey(origin), 0) + 1
        if (!prefs.edit().putLong(counterKey(origin), counter).commit()) {
            throw DeviceKeyException("STORAGE_FAILED", "the sign-in count could not be saved, so nothing was signed")
        }
        val keyId = base64url(MessageDigest.getInstance("SHA-256").digest(spki))
        val message = "handoff device-key sign-in v1\n$origin\n$challenge\n$counter"
        sign(activity, alias, message, "Sign in to ${hostOf(origin)}") { signed ->
            done(
                signed.map { signature ->
                    JSObject()
                        .put("keyId", keyId)
                        .put("counter", counter)
                        .put("signature", base64url(signature))
                        .put("signatureFormat", "der")
                },
            )
        }
    }

    private fun requireBiometrics() {
        when (val state = BiometricManager.from(app).canAuthenticate(BIOMETRIC_STRONG)) {
            BiometricManager.BIOMETRIC_SUCCESS -> return
            BiometricManager.BIOMETRIC_ERROR_NONE_ENROLLED ->
                throw DeviceKeyException("BIOMETRIC_UNAVAILABLE", "set up a fingerprint or face unlock (class 3, strong) on this phone first")
            else -> throw DeviceKeyException("BIOMETRIC_UNAVAILABLE", "this phone offers no strong biometric to protect the device key (state $state)")
        }
    }

    /** A P-256 signing key under [alias] that needs a strong biometric for every use; returns its SubjectPublicKeyInfo. */
    private fun generate(alias: String): ByteArray {
        fun spec(strongBox: Boolean): KeyGenParameterSpec {
            val builder = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
                .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
                .setDigests(KeyProperties.DIGEST_SHA256)
                .setUserAuthenticationRequired(true)
                .setInvalidatedByBiometricEnrollment(true)
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                builder.setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG)
            } else {
                // -1: authentication for every use of the key, by a biometric.
                @Suppress("DEPRECATION")
                builder.setUserAuthenticationValidityDurationSeconds(-1)
            }
            if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) builder.setIsStrongBoxBacked(true)
            return builder.build()
        }
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE)
        val strongBox = Build.VERSION.SDK_INT >= Build.VERSION_CODES.P &&
            app.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)
        val pair = if (strongBox) {
            try {
                generator.initialize(spec(strongBox = true))
                generator.generateKeyPair()
            } catch (e: ProviderException) {
                // StrongBoxUnavailableException: the secure element refused; the TEE keeps it instead.
                generator.initialize(spec(strongBox = false))
                generator.generateKeyPair()
            }
        } else {
            generator.initialize(spec(strongBox = false))
            generator.generateKeyPair()
        }
        return pair.public.encoded
    }

    /** Signs [message] with the key under [alias] once the user passes the biometric prompt. */
    private fun sign(activity: FragmentActivity, alias: String, message: String, title: String, done: (Result<ByteArray>) -> Unit) {
        val key = keyStore.getKey(alias, null) as? PrivateKey
            ?: throw DeviceKeyException("NO_KEY", "the device key is gone from the key store: pair again")
        val signature = Signature.getInstance("SHA256withECDSA")
        try {
            signature.initSign(key)
        } catch (e: KeyPermanentlyInvalidatedException) {
            throw DeviceKeyException("KEY_INVALIDATED", "this phone's biometrics changed since it was paired, which voids its device key: pair again", e)
        }
        activity.runOnUiThread {
            val callback = object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                    val unlocked = result.cryptoObject?.signature
                    if (unlocked == null) {
                        done(Result.failure(DeviceKeyException("SIGN_FAILED", "the biometric prompt returned no signature")))
                        return
                    }
                    done(
                        runCatching {
                            unlocked.update(message.toByteArray(Charsets.UTF_8))
                            unlocked.sign()
                        }.recoverCatching { throw DeviceKeyException("SIGN_FAILED", "the key store did not sign: ${it.message}", it) },
                    )
                }

                override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                    val cancelled = errorCode == BiometricPrompt.ERROR_USER_CANCELED ||
                        errorCode == BiometricPrompt.ERROR_NEGATIVE_BUTTON ||
                        errorCode == BiometricPrompt.ERROR_CANCELED
                    done(Result.failure(DeviceKeyException(if (cancelled) "CANCELLED" else "BIOMETRIC_FAILED", errString.toString())))
                }
            }
            val prompt = BiometricPrompt(activity, ContextCompat.getMainExecutor(activity), callback)
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle(title)
                .setSubtitle("Handoff device key")
                .setNegativeButtonText("Cancel")
                .setAllowedAuthenticators(BIOMETRIC_STRONG)
                .build()
            prompt.authenticate(info, BiometricPrompt.CryptoObject(signature))
        }
    }

    private fun deleteQuietly(alias: String) {
        try {
            keyStore.deleteEntry(alias)
        } catch (e: Exception) {
            // Already gone: nothing to delete.
        }
    }

    private fun asDeviceKeyException(e: Exception): DeviceKeyException =
        e as? DeviceKeyException ?: DeviceKeyException("DEVICE_KEY_FAILED", e.message ?: e.javaClass.simpleName, e)

    companion object {
        private const val ANDROID_KEYSTORE = "AndroidKeyStore"

        /** The server's challenges are base64url; anything else (a newline above all) is refused. */
        private val CHALLENGE = Regex("^[A-Za-z0-9_-]{16,512}$")

        @Volatile
        private var instance: DeviceKeys? = null

        /** The app's one set of device keys. */
        fun shared(context: Context): DeviceKeys =
            instance ?: synchronized(this) { instance ?: DeviceKeys(context).also { instance = it } }

        private fun aliasKey(origin: String) = "alias $origin"

        private fun counterKey(origin: String) = "counter $origin"

        private fun hostOf(origin: String): String = URI(origin).host ?: origin

        fun base64url(bytes: ByteArray): String = Base64.encodeToString(bytes, Base64.URL_SAFE or Base64.NO_PADDING or Base64.NO_WRAP)
    }
}
