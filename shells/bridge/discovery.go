package bridge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Computer is a tailnet node that answers as a Handoff server.
type Computer struct {
	// Name is the node's MagicDNS name, such as laptop.tail1234.ts.net.
	Name string `json:"name"`
	// URL is the address the app opens: https://NAME:PORT.
	URL string `json:"url"`
	// Version is the Handoff version it reports.
	Version string `json:"version"`
}

// healthBytes caps what a peer's /api/health answer may be.
const healthBytes = 4 << 10

// Discover asks every online node of the tailnet, at once, whether it runs
// Handoff on port (GET https://NAME:PORT/api/health, through the tailnet),
// and returns the ones that answer within timeoutMillis as a JSON array of
// Computer, sorted by name (JSON: gomobile passes no slices of structs).
//
// The certificate is not checked here, since only the answer's shape is
// read and nothing is sent; the web view checks it when the computer is
// opened, as a browser would.
func (n *Node) Discover(port int, timeoutMillis int) (string, error) {
	if port <= 0 || port > 65535 {
		return "", fmt.Errorf("port must be 1-65535, got %d", port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMillis)*time.Millisecond)
	defer cancel()
	st, err := n.status(ctx)
	if err != nil {
		return "", err
	}
	var (
		mu    sync.Mutex
		found = []Computer{}
		wg    sync.WaitGroup
	)
	for _, peer := range st.Peer {
		name := strings.TrimSuffix(peer.DNSName, ".")
		if !peer.Online || name == "" || len(peer.TailscaleIPs) == 0 {
			continue
		}
		addr := peer.TailscaleIPs[0]
		for _, ip := range peer.TailscaleIPs {
			if ip.Is4() {
				addr = ip
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, ok := n.probe(ctx, name, addr, port); ok {
				mu.Lock()
				found = append(found, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	out, err := json.Marshal(found)
	return string(out), err
}

// probe asks one node for Handoff's health answer.
func (n *Node) probe(ctx context.Context, name string, addr netip.Addr, port int) (Computer, bool) {
	hostPort := net.JoinHostPort(name, strconv.Itoa(port))
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return n.srv.Dial(ctx, "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		},
		TLSClientConfig:   &tls.Config{ServerName: name, InsecureSkipVerify: true},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostPort+"/api/health", nil)
	if err != nil {
		return Computer{}, false
	}
	res, err := client.Do(req)
	if err != nil {
		return Computer{}, false
	}
	defer res.Body.Close()
	var health struct {
		OK      bool   `json:"ok"`
		Version string `json:"version"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, healthBytes)).Decode(&health) != nil || !health.OK {
		return Computer{}, false
	}
	return Computer{Name: name, URL: "https://" + hostPort, Version: health.Version}, true
}
