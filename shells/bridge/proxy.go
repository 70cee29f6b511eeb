package bridge

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// proxy is an HTTP CONNECT proxy on loopback whose tunnels go through the
// node, to tailnet nodes only. A browser sends CONNECT for every https:// and
// wss:// request when it uses an HTTP proxy; plain http:// (an absolute-URI
// GET) is refused: Handoff serves HTTPS only.
type proxy struct {
	ln   net.Listener
	node *Node

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func listenProxy(at netip.AddrPort, node *Node) (*proxy, error) {
	ln, err := net.Listen("tcp", at.String())
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, node: node, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c, true) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.track(c, false)
			p.handle(c)
		}()
	}
}

// track adds or removes an open connection; false once the proxy is closed.
func (p *proxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
		c.Close()
	}
	return true
}

// close stops listening, ends every tunnel and waits for their goroutines.
func (p *proxy) close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// handle reads one CONNECT request and, if its destination is a tailnet node,
// splices the client to it.
func (p *proxy) handle(client net.Conn) {
	client.SetReadDeadline(time.Now().Add(dialTimeout))
	br := bufio.NewReader(client)
	req, err := http.ReadRequest(br)
	if err != nil {
		refuse(client, http.StatusBadRequest, "not an HTTP request")
		return
	}
	client.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		refuse(client, http.StatusMethodNotAllowed, "only CONNECT: this proxy reaches HTTPS servers on the tailnet")
		return
	}
	host, portText, err := net.SplitHostPort(req.RequestURI)
	port, perr := strconv.ParseUint(portText, 10, 16)
	if err != nil || perr != nil || port == 0 {
		refuse(client, http.StatusBadRequest, "CONNECT needs HOST:PORT")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	ip, err := p.node.peerAddress(ctx, host)
	if err != nil {
		refuse(client, http.StatusForbidden, err.Error())
		return
	}
	upstream, err := p.node.srv.Dial(ctx, "tcp", netip.AddrPortFrom(ip, uint16(port)).String())
	if err != nil {
		refuse(client, http.StatusBadGateway, err.Error())
		return
	}
	if !p.track(upstream, true) {
		upstream.Close()
		return
	}
	defer p.track(upstream, false)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after its request (a TLS hello) go first.
	if n := br.Buffered(); n > 0 {
		head, _ := br.Peek(n)
		if _, err := upstream.Write(head); err != nil {
			return
		}
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(upstream, client); closeWrite(upstream); done <- struct{}{} }()
	go func() { io.Copy(client, upstream); closeWrite(client); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

func refuse(c net.Conn, status int, why string) {
	body := why + "\n"
	io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(status)+" "+http.StatusText(status)+"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
}
