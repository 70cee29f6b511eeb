// Package tailnettest holds what the test tailnet's programs and the Go
// tests share: a DERP relay and a STUN server on one address.
package tailnettest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"

	"tailscale.com/derp/derpserver"
	"tailscale.com/net/stunserver"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"
)

// StartDERPAndSTUN is tailscale.com/tstest/integration's RunDERPAndSTUN
// without a testing.TB, and without that package (which needs every feature
// of Tailscale built in): a DERP
// server over TLS (nodes skip verification: InsecureForTests) and a STUN
// server, both on ip, in a DERP map of one region.
func StartDERPAndSTUN(ctx context.Context, ip string, logf logger.Logf) (*tailcfg.DERPMap, func(), error) {
	d := derpserver.New(key.NewNode(), logf)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewUnstartedServer(derpserver.Handler(d))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ErrorLog = logger.StdLogger(logf)
	srv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	srv.StartTLS()

	stun := stunserver.New(ctx)
	if err := stun.Listen(net.JoinHostPort(ip, "0")); err != nil {
		srv.Close()
		return nil, nil, err
	}
	go stun.Serve()
	stunPort := stun.LocalAddr().(*net.UDPAddr).Port

	derpMap := &tailcfg.DERPMap{Regions: map[int]*tailcfg.DERPRegion{
		1: {RegionID: 1, RegionCode: "test", Nodes: []*tailcfg.DERPNode{{
			Name:             "t1",
			RegionID:         1,
			HostName:         ip,
			IPv4:             ip,
			IPv6:             "none",
			STUNPort:         stunPort,
			DERPPort:         ln.Addr().(*net.TCPAddr).Port,
			InsecureForTests: true,
			STUNTestIP:       ip,
		}}},
	}}
	return derpMap, func() {
		srv.CloseClientConnections()
		srv.Close()
		d.Close()
	}, nil
}
