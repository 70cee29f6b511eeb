// Package bridge is a phone's own tailnet node: a tsnet node with a loopback
// HTTP CONNECT proxy that reaches the tailnet's nodes and nothing else. A web
// view (or a test's browser) set to use the proxy opens https://COMPUTER.TAILNET
// unchanged, so its origin, cookies and TLS are exactly the PWA's.
//
// The API keeps to plain types (strings, bools, errors, pointers to structs of
// those) so that gomobile can bind it for Android and iOS (docs/native-shells.md).
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/tsnet"
	"tailscale.com/types/logger"
)

// Limits of the node and its proxy.
const (
	dialTimeout = 15 * time.Second // one proxied connection's dial
)

// Node is one tailnet node. Its zero value is not usable: use NewNode.
type Node struct {
	srv *tsnet.Server

	mu    sync.Mutex
	proxy *proxy // nil until StartProxy
}

// NewNode makes a node that keeps its state (keys, login) in stateDir and
// calls itself hostname on the tailnet. controlURL is the coordination server:
// empty for Tailscale's own, else a self-hosted one (Headscale, a test's).
// verbose sends tsnet's logs to the process's log.
func NewNode(stateDir, hostname, controlURL string, verbose bool) *Node {
	srv := &tsnet.Server{Dir: stateDir, Hostname: hostname, ControlURL: controlURL, Logf: logger.Discard, UserLogf: logger.Discard}
	if verbose {
		srv.Logf = nil // tsnet's default: the log package
	}
	return &Node{srv: srv}
}

// Start begins joining the tailnet and returns at once: with authKey, or
// from the saved login in the state directory, or (with neither) by an
// interactive login whose URL Status reports for the app to open. Wait for
// the node with WaitRunning.
func (n *Node) Start(authKey string) error {
	n.srv.AuthKey = authKey
	if err := n.srv.Start(); err != nil {
		return fmt.Errorf("starting the tailnet node: %w", err)
	}
	return nil
}

// WaitRunning waits up to timeoutMillis for the node to be logged in and
// connected (an interactive login waits for the user).
func (n *Node) WaitRunning(timeoutMillis int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMillis)*time.Millisecond)
	defer cancel()
	if _, err := n.srv.Up(ctx); err != nil {
		return fmt.Errorf("joining the tailnet: %w", err)
	}
	return nil
}

// Status is what the home screen shows of this node.
type Status struct {
	// State is the node's state: NoState, NeedsLogin, NeedsMachineAuth, Stopped, Starting or Running.
	State string
	// Running is true once the node is logged in and connected.
	Running bool
	// LoginURL, while State is NeedsLogin, is the page where the user logs the node in.
	LoginURL string
	// Tailnet is the MagicDNS suffix, such as tail1234.ts.net.
	Tailnet string
	// Name is this node's MagicDNS name without the final dot.
	Name string
	// IPv4 is this node's Tailscale IPv4 address.
	IPv4 string
	// LoginName is the tailnet user this node belongs to.
	LoginName string
}

// Status reports the node's state.
func (n *Node) Status() (*Status, error) {
	st, err := n.status(context.Background())
	if err != nil {
		return nil, err
	}
	out := &Status{State: st.BackendState, Running: st.BackendState == "Running", LoginURL: st.AuthURL, Tailnet: st.MagicDNSSuffix}
	if st.Self != nil {
		out.Name = strings.TrimSuffix(st.Self.DNSName, ".")
		for _, ip := range st.Self.TailscaleIPs {
			if ip.Is4() {
				out.IPv4 = ip.String()
			}
		}
		if u, ok := st.User[st.Self.UserID]; ok {
			out.LoginName = u.LoginName
		}
	}
	return out, nil
}

func (n *Node) status(ctx context.Context) (*ipnstate.Status, error) {
	lc, err := n.localClient()
	if err != nil {
		return nil, err
	}
	return lc.Status(ctx)
}

func (n *Node) localClient() (*local.Client, error) {
	lc, err := n.srv.LocalClient()
	if err != nil {
		return nil, fmt.Errorf("the node is not started: %w", err)
	}
	return lc, nil
}

// StartProxy starts the HTTP CONNECT proxy on 127.0.0.1 (port 0: any free
// one) and returns its address, such as 127.0.0.1:41234. It reaches only the
// tailnet's nodes. Calling it again returns the running proxy's address.
func (n *Node) StartProxy(port int) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proxy != nil {
		return n.proxy.addr(), nil
	}
	p, err := listenProxy(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)), n)
	if err != nil {
		return "", err
	}
	n.proxy = p
	return p.addr(), nil
}

// Stop closes the proxy and leaves the tailnet (the saved login stays).
func (n *Node) Stop() error {
	n.mu.Lock()
	p := n.proxy
	n.proxy = nil
	n.mu.Unlock()
	var errs []error
	if p != nil {
		errs = append(errs, p.close())
	}
	errs = append(errs, n.srv.Close())
	return errors.Join(errs...)
}

// peerAddress resolves host (a MagicDNS name, short or full, or a Tailscale
// address) to the address of one of the tailnet's nodes. Anything that is not
// a node of this tailnet is an error: the proxy goes nowhere else.
func (n *Node) peerAddress(ctx context.Context, host string) (netip.Addr, error) {
	st, err := n.status(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	want := strings.TrimSuffix(strings.ToLower(host), ".")
	ip, notIP := netip.ParseAddr(want)
	isIP := notIP == nil
	for _, peer := range st.Peer {
		name := strings.TrimSuffix(strings.ToLower(peer.DNSName), ".")
		short, _, _ := strings.Cut(name, ".")
		for _, addr := range peer.TailscaleIPs {
			if (isIP && addr == ip.Unmap()) || (!isIP && (want == name || want == short) && addr.Is4()) {
				return addr, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%q is not a node of this tailnet", host)
}
