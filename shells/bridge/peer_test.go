package bridge

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tailscale.com/tsnet"
	"tailscale.com/types/logger"
)

// A second tailnet node must run in its own process (two tsnet nodes in one
// process do not work): the test binary runs itself as that node, a stand-in
// Handoff server answering /api/health over TLS on port 7438, when these are set.
const (
	peerStateEnv   = "BRIDGE_TEST_PEER_STATE"
	peerControlEnv = "BRIDGE_TEST_PEER_CONTROL"
	peerHostEnv    = "BRIDGE_TEST_PEER_HOST"
	peerServesEnv  = "BRIDGE_TEST_PEER_SERVES"
	handoffPort    = 7438
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(peerStateEnv); dir != "" {
		if err := runPeer(dir, os.Getenv(peerControlEnv), os.Getenv(peerHostEnv), os.Getenv(peerServesEnv) == "1"); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runPeer joins the tailnet as host, serves (if asked) Handoff's health
// answer (only for Host HOST.DOMAIN:7438, as Handoff's Host check does),
// prints "ready NAME", and runs until its standard input closes.
func runPeer(dir, controlURL, host string, serves bool) error {
	srv := &tsnet.Server{Dir: dir, Hostname: host, ControlURL: controlURL, Logf: logger.Discard, UserLogf: logger.Discard}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := srv.Up(ctx)
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(st.Self.DNSName, ".")
	if !serves {
		fmt.Printf("ready %s\n", name)
		io.Copy(io.Discard, os.Stdin)
		return nil
	}
	ln, err := srv.Listen("tcp", fmt.Sprintf(":%d", handoffPort))
	if err != nil {
		return err
	}
	cert, err := selfSigned(name)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != fmt.Sprintf("%s:%d", name, handoffPort) {
			http.Error(w, "host not allowed", http.StatusMisdirectedRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "version": "test"})
	})
	go http.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}), mux)
	fmt.Printf("ready %s\n", name)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// startPeer runs a node called host (with serves, the stand-in Handoff server) and returns its MagicDNS name.
func startPeer(t *testing.T, controlURL, host string, serves bool) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peerStateEnv+"="+t.TempDir(), peerControlEnv+"="+controlURL, peerHostEnv+"="+host, peerServesEnv+"="+map[bool]string{true: "1", false: "0"}[serves])
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("the peer did not start: %q %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "ready "))
}

func selfSigned(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func TestProxyAndDiscoveryReachAHandoffServerOnAnotherNode(t *testing.T) {
	controlURL := startControl(t, nil)
	computer := startPeer(t, controlURL, "computer", true)
	startPeer(t, controlURL, "printer", false) // a node that runs no Handoff

	n := NewNode(t.TempDir(), "phone", controlURL, false)
	t.Cleanup(func() { n.Stop() })
	if err := n.Start(""); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitRunning(30_000); err != nil {
		t.Fatal(err)
	}

	// Discovery lists the computer, not the printer (the netmap may take a moment to hold both).
	want := fmt.Sprintf(`[{"name":%q,"url":"https://%s:%d","version":"test"}]`, computer, computer, handoffPort)
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if got, err = n.Discover(handoffPort, 2_000); err != nil {
			t.Fatal(err)
		}
		if got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("Discover = %s, want %s", got, want)
	}
	if _, err := n.Discover(0, 1_000); err == nil {
		t.Error("Discover(port 0) did not fail")
	}

	// The proxy reaches it by name, as the web view does: CONNECT, then TLS, then HTTP.
	proxy, err := n.StartProxy(0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target := fmt.Sprintf("%s:%d", computer, handoffPort)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %v %v", target, res, err)
	}
	tc := tls.Client(c, &tls.Config{ServerName: computer, InsecureSkipVerify: true})
	fmt.Fprintf(tc, "GET /api/health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target)
	health, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(health.Body)
	if health.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok":true`) {
		t.Fatalf("health through the proxy: %d %s", health.StatusCode, body)
	}
}
