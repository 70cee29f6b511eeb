package bridge

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"handoff/tests/tailnet/tailnettest"
	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

// startControl runs a test tailnet's control server, DERP and STUN on loopback
// for the test; configure, if given, changes the control server first.
func startControl(t *testing.T, configure func(*testcontrol.Server)) string {
	t.Helper()
	derpMap, closeDERP, err := tailnettest.StartDERPAndSTUN(context.Background(), "127.0.0.1", logger.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDERP)
	control := &testcontrol.Server{
		DERPMap:        derpMap,
		MagicDNSDomain: "tailnet.test",
		DNSConfig:      &tailcfg.DNSConfig{Proxied: true},
		Logf:           logger.Discard,
		AllOnline:      true,
	}
	if configure != nil {
		configure(control)
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
	controlURL := startControl(t, nil)
	dir := t.TempDir()

	n := NewNode(dir, "phone", controlURL, false)
	if err := n.Start(""); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitRunning(30_000); err != nil {
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
	if err := again.WaitRunning(30_000); err != nil {
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

func TestNodeLogsInWithAnAuthKeyOrInteractively(t *testing.T) {
	var control *testcontrol.Server
	controlURL := startControl(t, func(s *testcontrol.Server) {
		s.RequireAuth = true
		control = s
	})

	// No key: the node waits for the user at a login URL, which the app opens.
	n := NewNode(t.TempDir(), "phone", controlURL, false)
	t.Cleanup(func() { n.Stop() })
	if err := n.Start(""); err != nil {
		t.Fatal(err)
	}
	var st *Status
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if st, err = n.Status(); err != nil {
			t.Fatal(err)
		}
		if st.LoginURL != "" {
			break
		}
	}
	if st.State != "NeedsLogin" || !strings.HasPrefix(st.LoginURL, controlURL+"/auth/") || st.Running {
		t.Fatalf("before login: %+v", st)
	}
	if !control.CompleteAuth(st.LoginURL) {
		t.Fatalf("the control server knows no login at %s", st.LoginURL)
	}
	if err := n.WaitRunning(30_000); err != nil {
		t.Fatal(err)
	}
	if st, _ := n.Status(); !st.Running || st.LoginURL != "" {
		t.Fatalf("after login: %+v", st)
	}
}

func TestNodeJoinsWithTheAuthKeyTheControlServerAsksFor(t *testing.T) {
	controlURL := startControl(t, func(s *testcontrol.Server) { s.RequireAuthKey = "tskey-auth-test" })

	wrong := NewNode(t.TempDir(), "stranger", controlURL, false)
	t.Cleanup(func() { wrong.Stop() })
	if err := wrong.Start("tskey-auth-wrong"); err != nil {
		t.Fatal(err)
	}
	if err := wrong.WaitRunning(3_000); err == nil {
		t.Fatal("a wrong auth key joined the tailnet")
	}

	n := NewNode(t.TempDir(), "phone", controlURL, false)
	t.Cleanup(func() { n.Stop() })
	if err := n.Start("tskey-auth-test"); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitRunning(30_000); err != nil {
		t.Fatal(err)
	}
}
