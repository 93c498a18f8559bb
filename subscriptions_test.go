package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xpanel/xpanel/xray/xraytest"
)

// TestMain_Subscriptions runs the binary with its subscription listener,
// fetches a subscription, stops the binary gracefully and checks that
// the fetch time was saved at shutdown, well before sub_fetch_flush.
func TestMain_Subscriptions(t *testing.T) {
	const token = "subscription-test-token-0123456789"
	s := settings{dataDir: t.TempDir(), token: token, subListen: freeAddr(t)}
	p := start(t, s)
	c := p.api(token)

	var in struct {
		ID int64 `json:"id"`
	}
	c.ok(t, "POST", "/panel/api/inbounds/add", map[string]any{
		"remark": "VL", "enable": true, "listen": "127.0.0.1", "port": xraytest.FreePort(t),
		"protocol": "vless", "settings": map[string]any{"decryption": "none"},
		"streamSettings": map[string]any{"network": "tcp", "security": "none"},
	}, &in)
	c.ok(t, "POST", "/panel/api/clients/add", map[string]any{"client": map[string]any{
		"email": "sub@bin", "subId": "bin-sub-id"}, "inboundIds": []int64{in.ID}}, nil)

	resp, err := http.Get("http://" + s.subListen + "/sub/bin-sub-id")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Subscription-Userinfo") == "" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	links, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil || !strings.HasPrefix(string(links), "vless://") {
		t.Fatalf("body %q is not base64 links: %v", body, err)
	}

	p.stop()
	if strings.Contains(p.stderr.String(), "bin-sub-id") {
		t.Errorf("the log names the subscription id")
	}
	p = start(t, s)
	var traffic struct {
		LastSubFetch int64 `json:"lastSubFetch"`
	}
	p.api(token).ok(t, "GET", "/panel/api/clients/traffic/sub@bin", nil, &traffic)
	if age := time.Since(time.UnixMilli(traffic.LastSubFetch)); age < 0 || age > time.Minute {
		t.Errorf("lastSubFetch after a restart = %d, want the fetch's time", traffic.LastSubFetch)
	}
}
