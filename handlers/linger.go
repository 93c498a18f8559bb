package handlers

import (
	"io"
	"net"
	"sync"
	"time"
)

// A server that closes a connection with request bytes still unread
// makes the kernel send a reset, and the client's kernel may then drop
// the answer before the client reads it: a refused oversized request
// (431, 413) would reach the client as "connection reset" at random.
// A lingering close sends the answer and a FIN first, then reads and
// discards what the client still sends for a moment before closing.
// The budget covers a request up to the default body cap; a client that
// sends more still gets a reset.
const (
	lingerTime  = time.Second
	lingerBytes = 16 << 20
)

// Lingering wraps ln so that every connection the server closes lingers
// as above; the server's Close returns at once and the connection ends
// in the background within lingerTime.
func Lingering(ln net.Listener) net.Listener { return lingerListener{ln} }

type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return &lingerConn{TCPConn: tc}, nil
	}
	return c, nil
}

// lingerConn is a TCP connection whose Close lingers.
type lingerConn struct {
	*net.TCPConn
	once sync.Once
}

// Close half-closes at once, so that nothing written after it reaches
// the client (an aborted backup must not end like a whole one), and
// leaves the draining and the full close to the background.
func (c *lingerConn) Close() error {
	c.once.Do(func() {
		if err := c.TCPConn.CloseWrite(); err != nil {
			c.TCPConn.Close()
			return
		}
		go c.drain()
	})
	return nil
}

// drain reads and discards until the client closes or the time or byte
// budget runs out, and closes the connection.
func (c *lingerConn) drain() {
	c.TCPConn.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.TCPConn, lingerBytes)
	c.TCPConn.Close()
}
