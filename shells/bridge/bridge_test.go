package bridge

import (
	"bufio"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

// startControl runs a test tailnet's control server, DERP and STUN on loopback for the test.
func startControl(t *testing.T) string {
	t.Helper()
	control := &testcontrol.Server{
		DERPMap:        integration.RunDERPAndSTUN(t, logger.Discard, "127.0.0.1"),
		MagicDNSDomain: "tailnet.test",
		DNSConfig:      &tailcfg.DNSConfig{Proxied: true},
		Logf:           logger.Discard,
	}
	srv := httptest.NewServer(control)
	t.Cleanup(srv.Close)
	control.HTTPTestServer = srv
	return srv.URL
}

// proxyAnswer sends one request line to the proxy and returns the status line it answers.
func proxyAnswer(t *testing.T, proxy, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\r\nHost: x\r\n\r\n", request)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", request, err)
	}
	return strings.TrimSpace(line)
}

func TestNodeJoinsProxiesOnlyTheTailnetAndRestartsFromItsState(t *testing.T) {
	controlURL := startControl(t)
	dir := t.TempDir()

	n := NewNode(dir, "phone", controlURL, false)
	if err := n.Start(""); err != nil {
		t.Fatal(err)
	}
	st, err := n.Status()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.Name != "phone.tailnet.test" || st.Tailnet != "tailnet.test" || !strings.HasPrefix(st.IPv4, "100.64.") || st.LoginName == "" {
		t.Fatalf("status = %+v", st)
	}

	proxy, err := n.StartProxy(0)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(proxy); host != "127.0.0.1" {
		t.Fatalf("proxy listens on %s, want loopback only", proxy)
	}
	if again, _ := n.StartProxy(0); again != proxy {
		t.Fatalf("a second StartProxy gave %s, want the running %s", again, proxy)
	}
	for _, tc := range []struct{ request, want string }{
		{"CONNECT example.com:443 HTTP/1.1", "403"},
		{"CONNECT 192.168.1.10:443 HTTP/1.1", "403"},
		{"CONNECT 127.0.0.1:22 HTTP/1.1", "403"},
		{"CONNECT phone.tailnet.test:443 HTTP/1.1", "403"}, // itself is not a peer
		{"CONNECT no-port HTTP/1.1", "400"},
		{"CONNECT peer:0 HTTP/1.1", "400"},
		{"GET http://example.com/ HTTP/1.1", "405"},
	} {
		if got := proxyAnswer(t, proxy, tc.request); !strings.Contains(got, " "+tc.want+" ") {
			t.Errorf("%s: got %q, want %s", tc.request, got, tc.want)
		}
	}
	if got := proxyAnswer(t, proxy, "nonsense"); !strings.Contains(got, " 400 ") {
		t.Errorf("a request that is not HTTP got %q", got)
	}

	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", proxy); err == nil {
		c.Close()
		t.Fatalf("the proxy still listens on %s after Stop", proxy)
	}

	// The saved state: the same node comes back without a key, at the same address.
	again := NewNode(dir, "phone", controlURL, false)
	t.Cleanup(func() { again.Stop() })
	if err := again.Start(""); err != nil {
		t.Fatal(err)
	}
	st2, err := again.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st2.IPv4 != st.IPv4 || st2.Name != st.Name {
		t.Fatalf("after a restart: %+v, want the address and name of %+v", st2, st)
	}
}
