package dev.handoff.app

import dev.handoff.go.bridge.InterfaceLister
import java.net.NetworkInterface

/**
 * The phone's network interfaces for the Go node (shells/bridge/interfaces.go):
 * Android 11 and later refuse apps the netlink query Go uses, so the node
 * asks here, through java.net.NetworkInterface, whenever the network changes.
 * One line per interface: NAME INDEX MTU FLAGS | ADDRESS/BITS ...
 */
internal object AndroidInterfaces : InterfaceLister {
    override fun interfaces(): String {
        val all = NetworkInterface.getNetworkInterfaces() ?: return ""
        return all.toList().joinToString("\n") { nif ->
            val flags = listOfNotNull(
                "up".takeIf { nif.isUp },
                "loopback".takeIf { nif.isLoopback },
                "multicast".takeIf { nif.supportsMulticast() },
                "pointtopoint".takeIf { nif.isPointToPoint },
                "broadcast".takeIf { nif.interfaceAddresses.any { it.broadcast != null } },
            ).ifEmpty { listOf("-") }.joinToString(",")
            val addresses = nif.interfaceAddresses.joinToString(" ") { a ->
                // IPv6 link-local addresses carry their scope ("fe80::1%wlan0"): the prefix form has none.
                "${a.address.hostAddress?.substringBefore('%')}/${a.networkPrefixLength}"
            }
            "${nif.name} ${maxOf(nif.index, 0)} ${maxOf(nif.mtu, 0)} $flags | $addresses"
        }
    }
}
