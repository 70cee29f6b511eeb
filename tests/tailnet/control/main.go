// Command control runs a whole test tailnet's coordination on one address: a
// Tailscale control server (tailscale.com's testcontrol), a DERP relay and a
// STUN server, with MagicDNS under one domain. Nodes join it with
// --login-server; no account and no internet are involved.
//
// It prints one JSON line once everything listens:
//
//	{"control":"http://10.77.0.1:41641","admin":"http://127.0.0.1:40123","domain":"tailnet.test"}
//
// and runs until its standard input closes or it gets SIGTERM, so a test that
// dies takes its tailnet with it. The admin address (loopback only) lets a test
// do what a tailnet's admin would: list the nodes, expire one's key, move one
// to another address. See docs/tailnet.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"handoff/tests/tailnet/tailnettest"
	"tailscale.com/net/tsaddr"
	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

func main() {
	listen := flag.String("listen", "127.0.0.1", "the IP address the control server, DERP and STUN listen on (every node must reach it)")
	domain := flag.String("domain", "tailnet.test", "the MagicDNS domain: nodes are named HOST.DOMAIN")
	verbose := flag.Bool("v", false, "log the control server's and DERP's work to stderr")
	flag.Parse()
	if _, err := netip.ParseAddr(*listen); err != nil {
		fatalf("--listen must be an IP address: %v", err)
	}

	logf := logger.Discard
	if *verbose {
		logf = log.Printf
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		// The test that started us is gone when our stdin closes.
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	derpMap, closeDERP, err := tailnettest.StartDERPAndSTUN(ctx, *listen, logf)
	if err != nil {
		fatalf("DERP and STUN: %v", err)
	}
	defer closeDERP()

	ln, err := net.Listen("tcp", net.JoinHostPort(*listen, "0"))
	if err != nil {
		fatalf("control: %v", err)
	}
	control := &testcontrol.Server{
		Logf:           logf,
		DERPMap:        derpMap,
		MagicDNSDomain: *domain,
		// Proxied is MagicDNS on: what `tailscale status` reports as MagicDNSEnabled.
		DNSConfig:       &tailcfg.DNSConfig{Proxied: true, Domains: []string{*domain}},
		AllOnline:       true,
		ExplicitBaseURL: "http://" + ln.Addr().String(),
	}
	go http.Serve(ln, control)

	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("admin: %v", err)
	}
	go http.Serve(adminLn, adminHandler(control))

	ready, _ := json.Marshal(map[string]string{
		"control": control.BaseURL(),
		"admin":   "http://" + adminLn.Addr().String(),
		"domain":  *domain,
	})
	fmt.Printf("%s\n", ready)
	<-ctx.Done()
}

// nodeJSON is a node as the admin API lists it.
type nodeJSON struct {
	ID        int64     `json:"id"`
	Hostname  string    `json:"hostname"`
	Name      string    `json:"name"`
	Addresses []string  `json:"addresses"`
	KeyExpiry time.Time `json:"keyExpiry,omitzero"`
}

// adminHandler serves the test's admin actions:
//
//	GET  /nodes                          every node
//	POST /expire?host=HOST               the node's key expires now
//	POST /address?host=HOST&ip=100.64.y.z the node moves to that IPv4 address (and its IPv6 twin)
func adminHandler(control *testcontrol.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nodes", func(w http.ResponseWriter, r *http.Request) {
		nodes := []nodeJSON{}
		for _, n := range control.AllNodes() {
			nodes = append(nodes, describe(n))
		}
		writeJSON(w, nodes)
	})
	mux.HandleFunc("POST /expire", func(w http.ResponseWriter, r *http.Request) {
		n, err := nodeByHost(control, r.URL.Query().Get("host"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		n.KeyExpiry = time.Now().Add(-time.Minute)
		control.UpdateNode(n)
		writeJSON(w, describe(n))
	})
	mux.HandleFunc("POST /address", func(w http.ResponseWriter, r *http.Request) {
		n, err := nodeByHost(control, r.URL.Query().Get("host"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		ip, err := netip.ParseAddr(r.URL.Query().Get("ip"))
		b := ip.As4()
		id := tailcfg.NodeID(int(b[2])<<8 | int(b[3]))
		if err != nil || !ip.Is4() || !netip.MustParsePrefix("100.64.0.0/16").Contains(ip) || id == 0 || nodeByID(control, id) {
			http.Error(w, "ip must be an unused IPv4 address in 100.64.0.0/16 (not 100.64.0.0)", http.StatusBadRequest)
			return
		}
		// testcontrol gives a node its own address from its ID (100.64.ID>>8.ID&255),
		// so the node moves to the ID of that address. It hears of it first, on its
		// open map stream (which testcontrol keeps under the old ID: the node gets no
		// later updates until it polls again, so move a node last).
		v4 := netip.PrefixFrom(ip, 32)
		v6 := netip.PrefixFrom(tsaddr.Tailscale4To6(ip), 128)
		moved := n.Clone()
		moved.ID = id
		moved.Addresses = []netip.Prefix{v4, v6}
		moved.AllowedIPs = []netip.Prefix{v4, v6}
		control.AddRawMapResponse(n.Key, &tailcfg.MapResponse{Node: moved})
		control.UpdateNode(moved)
		writeJSON(w, describe(moved))
	})
	return mux
}

func nodeByHost(control *testcontrol.Server, host string) (*tailcfg.Node, error) {
	for _, n := range control.AllNodes() {
		if n.Hostinfo.Hostname() == host {
			return n, nil
		}
	}
	return nil, errors.New("no node with host name " + fmt.Sprintf("%q", host))
}

func nodeByID(control *testcontrol.Server, id tailcfg.NodeID) bool {
	for _, n := range control.AllNodes() {
		if n.ID == id {
			return true
		}
	}
	return false
}

func describe(n *tailcfg.Node) nodeJSON {
	out := nodeJSON{ID: int64(n.ID), Hostname: n.Hostinfo.Hostname(), Name: n.Name, KeyExpiry: n.KeyExpiry}
	for _, p := range n.Addresses {
		out.Addresses = append(out.Addresses, p.Addr().String())
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "control: "+format+"\n", args...)
	os.Exit(1)
}
