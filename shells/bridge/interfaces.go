package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"tailscale.com/net/netmon"
)

// InterfaceLister reports the phone's network interfaces where Go cannot list
// them itself: Android 11 and later refuse apps the netlink query Go's net
// package uses, so the app lists them with java.net.NetworkInterface (as
// Tailscale's own Android app does) and the node asks it whenever the
// network changes.
//
// Interfaces returns one line per interface:
//
//	NAME INDEX MTU FLAGS | ADDRESS/BITS ADDRESS/BITS ...
//
// FLAGS is "-" or a comma-separated list of up, loopback, multicast,
// pointtopoint and broadcast; the addresses may be none.
type InterfaceLister interface {
	Interfaces() (string, error)
}

// SetInterfaceLister makes the node list interfaces through l; call it before
// Start. Nil goes back to Go's own listing.
func SetInterfaceLister(l InterfaceLister) {
	if l == nil {
		netmon.RegisterInterfaceGetter(nil)
		return
	}
	netmon.RegisterInterfaceGetter(func() ([]netmon.Interface, error) {
		text, err := l.Interfaces()
		if err != nil {
			return nil, err
		}
		return parseInterfaces(text)
	})
}

var interfaceFlags = map[string]net.Flags{
	"up":           net.FlagUp,
	"loopback":     net.FlagLoopback,
	"multicast":    net.FlagMulticast,
	"pointtopoint": net.FlagPointToPoint,
	"broadcast":    net.FlagBroadcast,
}

// parseInterfaces reads InterfaceLister's lines; any line it cannot read is
// an error naming it (a wrong list would route the node's traffic wrongly).
func parseInterfaces(text string) ([]netmon.Interface, error) {
	var out []netmon.Interface
	for n, line := range strings.Split(strings.TrimSpace(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		head, addrs, ok := strings.Cut(line, "|")
		fields := strings.Fields(head)
		if !ok || len(fields) != 4 {
			return nil, fmt.Errorf("interface line %d: want \"NAME INDEX MTU FLAGS | ADDRESSES\", got %q", n+1, line)
		}
		index, err1 := strconv.Atoi(fields[1])
		mtu, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil || index < 0 || mtu < 0 {
			return nil, fmt.Errorf("interface line %d: index and MTU must be whole numbers, got %q", n+1, line)
		}
		var flags net.Flags
		if fields[3] != "-" {
			for _, name := range strings.Split(fields[3], ",") {
				f, known := interfaceFlags[name]
				if !known {
					return nil, fmt.Errorf("interface line %d: unknown flag %q", n+1, name)
				}
				flags |= f
			}
		}
		iface := netmon.Interface{Interface: &net.Interface{Index: index, MTU: mtu, Name: fields[0], Flags: flags}, AltAddrs: []net.Addr{}}
		for _, a := range strings.Fields(addrs) {
			prefix, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("interface line %d: %q is not ADDRESS/BITS", n+1, a)
			}
			iface.AltAddrs = append(iface.AltAddrs, &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())})
		}
		out = append(out, iface)
	}
	return out, nil
}
