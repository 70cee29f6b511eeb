// Command node runs one tailnet node in its own process, as a phone: the
// bridge of the native shells (shells/bridge), a tsnet node with a loopback
// HTTP CONNECT proxy into the tailnet. It prints one JSON line once it is on
// the tailnet and the proxy listens:
//
//	{"proxy":"127.0.0.1:40321","name":"phone.tailnet.test","ip":"100.64.0.2","user":"user-2@…"}
//
// and runs until its standard input closes or it gets SIGTERM. With --api it
// also answers, on another loopback port (in "api"), what a shell's
// HandoffBridge plugin asks of the bridge, for a test's stand-in plugin:
//
//	GET /status                      the bridge's Status, as JSON
//	GET /discover?port=P&timeout=MS  the bridge's Discover answer
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"handoff/shells/bridge"
)

func main() {
	control := flag.String("control", "", "the control server's URL (required)")
	hostname := flag.String("hostname", "", "this node's host name (required)")
	state := flag.String("state", "", "the folder for this node's state (required)")
	authKey := flag.String("auth-key", "", "an auth key, if the control server asks for one")
	verbose := flag.Bool("v", false, "log tsnet's work to stderr")
	api := flag.Bool("api", false, "answer /status and /discover on a loopback port (for tests)")
	flag.Parse()
	if *control == "" || *hostname == "" || *state == "" {
		fmt.Fprintln(os.Stderr, "node: --control, --hostname and --state are required")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	n := bridge.NewNode(*state, *hostname, *control, *verbose)
	defer n.Stop()
	if err := n.Start(*authKey); err != nil {
		fatalf("%v", err)
	}
	if err := n.WaitRunning(60_000); err != nil {
		fatalf("%v", err)
	}
	proxy, err := n.StartProxy(0)
	if err != nil {
		fatalf("proxy: %v", err)
	}
	st, err := n.Status()
	if err != nil {
		fatalf("status: %v", err)
	}
	answer := map[string]string{"proxy": proxy, "name": st.Name, "ip": st.IPv4, "user": st.LoginName}
	if *api {
		addr, err := serveAPI(n)
		if err != nil {
			fatalf("api: %v", err)
		}
		answer["api"] = addr
	}
	ready, _ := json.Marshal(answer)
	fmt.Printf("%s\n", ready)
	<-ctx.Done()
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "node: "+format+"\n", args...)
	os.Exit(1)
}

// serveAPI answers /status and /discover on a loopback port and returns its address.
func serveAPI(n *bridge.Node) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := n.Status()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /discover", func(w http.ResponseWriter, r *http.Request) {
		port, perr := strconv.Atoi(r.URL.Query().Get("port"))
		timeout, terr := strconv.Atoi(r.URL.Query().Get("timeout"))
		if perr != nil || terr != nil {
			http.Error(w, "port and timeout must be numbers", http.StatusBadRequest)
			return
		}
		found, err := n.Discover(port, timeout)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, found)
	})
	go http.Serve(ln, mux)
	return ln.Addr().String(), nil
}
