package sub_test

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/sub"
)

// provider is another panel's subscription on 127.0.0.1: base64 links,
// counting its requests.
type provider struct {
	url  string
	hits atomic.Int32
}

func startProvider(t *testing.T, body string) *provider {
	t.Helper()
	p := &provider{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL + "/sub/secret-id"
	return p
}

// deadURL is a URL of 127.0.0.1 on which nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/sub/gone"
}

func TestServer_ExternalSubscriptions(t *testing.T) {
	e := newEnv(t, sub.Options{UpdateHours: 12})
	in := e.inbound("trojan", `{}`, `{}`)
	e.client(`{"email":"alice","subId":"s1","password":"pw"}`, in)

	plain := "trojan://x@p.test:443?security=tls&type=tcp#DE\n" +
		"not a link\nvless://" + strings.Repeat("1", 8) + "@q.test:8443?type=tcp#NL\n"
	good := startProvider(t, base64.StdEncoding.EncodeToString([]byte(plain)))
	dead := deadURL(t)
	yes := true
	err := e.svc.SetExternalLinks("alice", []panel.ExternalLinkInput{
		{Kind: "subscription", Value: dead},
		{Kind: "subscription", Value: good.url, NamePrefix: "P-"},
		{Kind: "link", Value: "ss://YWVzLTI1Ni1nY206cHc@r.test:1#own", Remark: "Mine", Enable: &yes},
	})
	if err != nil {
		t.Fatal(err)
	}

	_, body := e.get("GET", "s1?format=plain", "")
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	want := []string{"trojan://pw@vpn.test:", "ss://YWVzLTI1Ni1nY206cHc@r.test:1#Mine",
		"trojan://x@p.test:443?security=tls&type=tcp#P-DE",
		"vless://11111111@q.test:8443?type=tcp#P-NL"}
	if len(lines) != len(want) {
		t.Fatalf("lines = %q, want %d: own, external link, two fetched", lines, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %s, want %s...", i, lines[i], want[i])
		}
	}

	t.Run("fetched answers are cached", func(t *testing.T) {
		e.get("GET", "s1", "")
		e.get("HEAD", "s1", "")
		if n := good.hits.Load(); n != 1 {
			t.Errorf("provider fetched %d times for three answers, want once", n)
		}
	})

	t.Run("outcomes are recorded on the links", func(t *testing.T) {
		if err := e.srv.Flush(); err != nil {
			t.Fatal(err)
		}
		var stored []kv.ExternalLink
		e.store.View(func(v *kv.View) error {
			stored = v.ClientByEmail("alice").Links
			return nil
		})
		failed, fetched := stored[0], stored[1]
		if failed.LastFetchAt != now.UnixMilli() || failed.LastFetchError == "" {
			t.Errorf("dead subscription: at %d, error %q; want now and a reason",
				failed.LastFetchAt, failed.LastFetchError)
		}
		if strings.Contains(failed.LastFetchError, "/sub/gone") {
			t.Errorf("recorded error quotes the URL: %s", failed.LastFetchError)
		}
		if fetched.LastFetchAt != now.UnixMilli() || fetched.LastFetchError != "" {
			t.Errorf("good subscription: at %d, error %q; want now and none",
				fetched.LastFetchAt, fetched.LastFetchError)
		}
	})
}

func TestFetcher_Fetch(t *testing.T) {
	t.Run("a slow provider times out", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		f := sub.NewFetcher(100*time.Millisecond, time.Minute)
		start := time.Now()
		_, fresh, err := f.Fetch(srv.URL)
		if err == nil || !fresh {
			t.Fatalf("fetch = fresh %v, err %v; want a fresh failure", fresh, err)
		}
		// Without the timeout the fetch would wait until the test ends;
		// the bound is loose because a loaded machine is slow.
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("gave up after %v", took)
		}
		if _, fresh, err := f.Fetch(srv.URL); err == nil || fresh {
			t.Errorf("second fetch = fresh %v, err %v; want the cached failure", fresh, err)
		}
	})

	t.Run("plain bodies and non-200 answers", func(t *testing.T) {
		ok := startProvider(t, "vmess://not-base64\r\nhy2://a@h.test:443?sni=s#H\n")
		f := sub.NewFetcher(time.Second, time.Minute)
		lines, _, err := f.Fetch(ok.url)
		if err != nil || len(lines) != 1 || !strings.HasPrefix(lines[0], "hy2://") {
			t.Errorf("lines = %q, err %v; want the one valid link", lines, err)
		}
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		if _, _, err := f.Fetch(srv.URL); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("404 provider: err %v", err)
		}
	})
}
