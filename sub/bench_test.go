package sub_test

import (
	"fmt"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/sub"
)

// BenchmarkServer_Serve renders the subscription of a client on 50
// inbounds, of every protocol and a mix of transports and security, in
// each format. The target is 2 ms per answer in the default format.
func BenchmarkServer_Serve(b *testing.B) {
	e := newEnv(b, sub.Options{UpdateHours: 12})
	var ids []int64
	streams := []string{
		`{"network":"tcp","security":"tls","tlsSettings":{"serverName":"s.test","alpn":["h2"],` +
			`"settings":{"fingerprint":"chrome"}}}`,
		`{"network":"ws","wsSettings":{"path":"/ws","host":"w.test"}}`,
		`{"network":"grpc","security":"reality","realitySettings":{"serverNames":["r.test"],` +
			`"shortIds":["ab"],"settings":{"publicKey":"k","spiderX":"/"}}}`,
		`{"network":"xhttp","xhttpSettings":{"path":"/x","mode":"auto"}}`,
		`{"network":"httpupgrade","httpupgradeSettings":{"path":"/u"}}`,
	}
	protocols := []struct{ protocol, settings string }{
		{"vless", `{"decryption":"none"}`}, {"vmess", `{}`}, {"trojan", `{}`},
		{"shadowsocks", `{"method":"aes-128-gcm"}`},
		{"shadowsocks", `{"method":"2022-blake3-aes-128-gcm"}`},
	}
	for i := range 50 {
		p := protocols[i%len(protocols)]
		stream := streams[(i/len(protocols))%len(streams)]
		if p.protocol == "shadowsocks" {
			stream = `{"network":"tcp"}`
		}
		ids = append(ids, e.inbound(p.protocol, p.settings, stream))
	}
	e.client(`{"email":"bench@test","subId":"bench","flow":"xtls-rprx-vision"}`, ids...)

	for _, format := range []string{"base64", "json", "clash", "singbox"} {
		b.Run(format, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI(fmt.Sprintf("/sub/bench?format=%s", format))
			ctx.Request.Header.SetHost("vpn.test")
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				e.srv.Serve(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}
