package bridge

import (
	"strings"
	"testing"
)

func TestParseInterfacesReadsTheAppsList(t *testing.T) {
	list, err := parseInterfaces("lo 1 65536 up,loopback | 127.0.0.1/8 ::1/128\n\nwlan0 30 1500 up,broadcast,multicast | 192.168.1.23/24 fe80::1c2e:5dff:fe11:2233/64\nrmnet_data0 12 1400 - |\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("got %d interfaces, want 3", len(list))
	}
	lo, wlan, rmnet := list[0], list[1], list[2]
	if !lo.IsLoopback() || !lo.IsUp() || lo.Index != 1 || lo.MTU != 65536 {
		t.Errorf("lo = %+v", lo.Interface)
	}
	addrs, _ := wlan.Addrs()
	if wlan.Name != "wlan0" || !wlan.IsUp() || wlan.IsLoopback() || len(addrs) != 2 || addrs[0].String() != "192.168.1.23/24" || addrs[1].String() != "fe80::1c2e:5dff:fe11:2233/64" {
		t.Errorf("wlan0 = %+v %v", wlan.Interface, addrs)
	}
	if rmnet.IsUp() || len(rmnet.AltAddrs) != 0 {
		t.Errorf("rmnet_data0 = %+v %v", rmnet.Interface, rmnet.AltAddrs)
	}
}

func TestParseInterfacesRefusesWhatItCannotRead(t *testing.T) {
	for line, want := range map[string]string{
		"wlan0 30 1500 up":                   `want "NAME INDEX MTU FLAGS | ADDRESSES"`,
		"wlan0 30 up | 10.0.0.1/8":           `want "NAME INDEX MTU FLAGS | ADDRESSES"`,
		"wlan0 x 1500 up | 10.0.0.1/8":       "whole numbers",
		"wlan0 30 -1 up | 10.0.0.1/8":        "whole numbers",
		"wlan0 30 1500 up,fast | 10.0.0.1/8": `unknown flag "fast"`,
		"wlan0 30 1500 up | 10.0.0.1":        `"10.0.0.1" is not ADDRESS/BITS`,
		"wlan0 30 1500 up | 10.0.0.1/33":     `"10.0.0.1/33" is not ADDRESS/BITS`,
	} {
		if _, err := parseInterfaces(line); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %s", line, err, want)
		}
	}
}
