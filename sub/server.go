// Package sub is the subscription server: the second listener that apps
// (v2rayN, v2rayNG, Hiddify, Streisand, sing-box, Clash/Mihomo, Happ)
// poll for a customer's links, with the remaining quota and expiry in
// the headers. There is no token: the subscription id in the path is
// the secret. It also fetches and caches the external subscriptions
// clients carry (Fetcher), and writes the time of each client's last
// fetch to the store in batches.
package sub

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/links"
	"github.com/xpanel/xpanel/panel"
)

// Options configures a Server.
type Options struct {
	// Path is the prefix subscription URLs start with, such as "/sub/";
	// the subscription id follows it.
	Path string

	// UpdateHours is how often apps are told to fetch again.
	UpdateHours int

	// Title names the profile in apps; empty means the email of the
	// subscription's first client.
	Title string

	// FlushInterval is how often the fetch times noted since the last
	// flush are written to the store. Zero starts no flushing: the
	// caller calls Flush, as tests do.
	FlushInterval time.Duration

	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
}

// Server answers subscription requests. Build it with New, then Open.
type Server struct {
	svc  *panel.Service
	opts Options
	log  *slog.Logger

	every *panel.Every
}

// New returns a Server answering from svc.
func New(svc *panel.Service, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Path == "" {
		opts.Path = "/sub/"
	}
	return &Server{svc: svc, opts: opts, log: log}
}

// Open starts writing fetch times to the store every FlushInterval.
func (s *Server) Open() {
	s.every = panel.StartEvery(s.opts.FlushInterval, func() {
		if err := s.Flush(); err != nil {
			s.log.Error("save subscription fetch times", slog.Any("err", err))
		}
	})
}

// Flush writes the fetch times and external subscription outcomes noted
// since the last flush to the store.
func (s *Server) Flush() error {
	if err := s.svc.FlushSubFetches(); err != nil {
		return fmt.Errorf("flush subscription fetches: %w", err)
	}
	return nil
}

// Close stops flushing and flushes once more, so that no fetch time is
// lost at shutdown. Call it after the listener stopped and before the
// store closes.
func (s *Server) Close() error {
	s.every.Stop()
	return s.Flush()
}

// Limits bounds the connections and requests the listener accepts.
type Limits struct {
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	MaxConns     int
}

// HTTPServer returns a fasthttp server answering with s under the limits.
// Requests carry no body, so any body is refused.
func (s *Server) HTTPServer(l Limits) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               s.Serve,
		Name:                  "xpanel",
		MaxRequestBodySize:    4 << 10,
		ReadTimeout:           l.ReadTimeout,
		WriteTimeout:          l.WriteTimeout,
		IdleTimeout:           l.IdleTimeout,
		Concurrency:           l.MaxConns,
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
		NoDefaultContentType:  true,
		Logger:                fasthttpLogger{log: s.log, path: s.opts.Path},
	}
}

// fasthttpLogger sends fasthttp's own messages to slog at debug level,
// with whatever follows the subscription path cut: a message may quote a
// request line, and so a subscription id.
type fasthttpLogger struct {
	log  *slog.Logger
	path string
}

func (l fasthttpLogger) Printf(format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	var b strings.Builder
	for {
		before, after, found := strings.Cut(detail, l.path)
		b.WriteString(before)
		if !found {
			break
		}
		b.WriteString(l.path + "[redacted]")
		end := strings.IndexAny(after, " \t\r\n\"'")
		if end < 0 {
			end = len(after)
		}
		detail = after[end:]
	}
	l.log.Debug("http server", slog.String("detail", b.String()))
}

// Serve answers GET and HEAD {Path}{subId}. Anything else, an unknown
// subscription id and one without a single link get an empty 404, so
// that a scanner learns nothing. HEAD answers the headers of the GET.
func (s *Server) Serve(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	subID, ok := strings.CutPrefix(string(ctx.Path()), s.opts.Path)
	if !ok || subID == "" || strings.Contains(subID, "/") {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	f, ok := formatOf(string(ctx.QueryArgs().Peek("format")), string(ctx.UserAgent()))
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("unknown format; use base64, plain, json, clash or singbox\n")
		return
	}

	sub := s.svc.Subscription(subID, string(ctx.Host()))
	if sub == nil || len(sub.Links) == 0 {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	body, err := render(f, sub.Links)
	if err != nil {
		s.log.Error("render subscription", slog.String("format", f.name), slog.Any("err", err))
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	s.writeHeaders(ctx, sub, f)
	ctx.SetBody(body)
	if ctx.IsGet() {
		s.svc.NoteSubFetch(sub.Emails)
	}
}

// writeHeaders sets the headers apps read: usage and expiry, how often
// to fetch again, the profile's name, and a file name for it.
func (s *Server) writeHeaders(ctx *fasthttp.RequestCtx, sub *panel.Subscription, f format) {
	h := &ctx.Response.Header
	ctx.SetContentType(f.contentType)
	h.Set("Subscription-Userinfo", fmt.Sprintf("upload=%d; download=%d; total=%d; expire=%d",
		sub.Up, sub.Down, sub.Total, sub.Expire))
	h.Set("Profile-Update-Interval", strconv.Itoa(s.opts.UpdateHours))
	title := s.opts.Title
	if title == "" {
		title = sub.Emails[0]
	}
	h.Set("Profile-Title", "base64:"+base64.StdEncoding.EncodeToString([]byte(title)))
	h.Set("Content-Disposition", contentDisposition(title))
	h.Set("Cache-Control", "no-store")
}

// contentDisposition names the profile file: an ASCII name for old
// clients and the exact one, percent-encoded, for the rest (RFC 6266).
func contentDisposition(title string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, title)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` +
		strings.ReplaceAll(url.QueryEscape(title), "+", "%20")
}

// render writes the links in format f.
func render(f format, lines []string) ([]byte, error) {
	switch f.name {
	case formatBase64, formatPlain:
		text := strings.Join(lines, "\n") + "\n"
		if f.name == formatPlain {
			return []byte(text), nil
		}
		out := make([]byte, base64.StdEncoding.EncodedLen(len(text)))
		base64.StdEncoding.Encode(out, []byte(text))
		return out, nil
	}
	outs := make([]*links.Outbound, 0, len(lines))
	for _, line := range lines {
		if o, err := links.Parse(line); err == nil {
			outs = append(outs, o)
		}
	}
	switch f.name {
	case formatXray:
		return xrayConfigs(outs)
	case formatClash:
		return clashProfile(outs)
	}
	return singboxConfig(outs)
}
