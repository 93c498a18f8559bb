package links_test

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/links"
)

const uuid = "11111111-2222-4333-8444-555555555555"

// inbound builds an inbound record as the store keeps it.
func inbound(protocol, remark, listen string, port int, settings, stream string) *kv.Inbound {
	return &kv.Inbound{ID: 7, Protocol: protocol, Remark: remark, Listen: listen, Port: port,
		Settings: []byte(settings), StreamSettings: []byte(stream), Enable: true}
}

// alice is the client of most cases, attached to inbound 7 with flow.
func alice(flow string) *kv.Client {
	return &kv.Client{ID: 1, Email: "alice", SubID: "subAlice", UUID: uuid,
		Password: "p@ss/w+rd= x", Auth: "a b/c", Security: "",
		Inbounds: []kv.Attachment{{InboundID: 7, Flow: flow}}}
}

// vm is a vmess link of a JSON text written out by hand, so that the
// key order and indentation are pinned as well.
func vm(text string) string {
	return "vmess://" + base64.StdEncoding.EncodeToString([]byte(text))
}

type linkCase struct {
	name string
	in   *kv.Inbound
	c    *kv.Client
	host string
	want []string
}

func runCases(t *testing.T, cases []linkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if c == nil {
				c = alice("")
			}
			host := tc.host
			if host == "" {
				host = "example.com"
			}
			got := links.Of(tc.in, c, host)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("links:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

const vlessNone = `{"decryption":"none"}`

func TestOf_VLESS(t *testing.T) {
	reality := `{"network":"tcp","security":"reality","realitySettings":{` +
		`"serverNames":["r.example"],"shortIds":["ab12"],"settings":` +
		`{"publicKey":"PBK","fingerprint":"firefox","spiderX":"/seed"}}}`
	runCases(t, []linkCase{
		{name: "tcp without security",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"tcp","security":"none"}`),
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?encryption=none&security=none&type=tcp#VL-alice"}},
		{name: "no network means tcp and encryption is copied",
			in: inbound("vless", "VL", "", 443, `{"decryption":"none","encryption":"none"}`, `{}`),
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?encryption=none&security=none&type=tcp#VL-alice"}},
		{name: "ws with tls",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"ws","security":"tls",`+
				`"wsSettings":{"path":"/p","headers":{"Host":"h.example"}},"tlsSettings":{`+
				`"serverName":"sni.example","alpn":["h2","http/1.1"],`+
				`"settings":{"fingerprint":"chrome"}}}`),
			c: alice("xtls-rprx-vision"),
			want: []string{"vless://" + uuid + "@example.com:443?alpn=h2%2Chttp%2F1.1" +
				"&encryption=none&fp=chrome&host=h.example&path=%2Fp&security=tls" +
				"&sni=sni.example&type=ws#VL-alice"}},
		{name: "tls extras ech vcn pcs",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"tcp","security":"tls",`+
				`"tlsSettings":{"serverName":"s","settings":{"echConfigList":"ECH=",`+
				`"verifyPeerCertByName":" v.example ","pinnedPeerCertSha256":["P1","P2"]}}}`),
			want: []string{"vless://" + uuid + "@example.com:443?ech=ECH%3D&encryption=none" +
				"&pcs=P1%2CP2&security=tls&sni=s&type=tcp&vcn=v.example#VL-alice"}},
		{name: "reality with flow",
			in: inbound("vless", "VL", "", 443, vlessNone, reality),
			c:  alice("xtls-rprx-vision"),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&flow=xtls-rprx-vision&fp=firefox&pbk=PBK&security=reality&sid=ab12" +
				"&sni=r.example&spx=%2Fc252fbc3ecd3e3c&type=tcp#VL-alice"}},
		{name: "reality spider path from the email without a subId",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"tcp",`+
				`"security":"reality","realitySettings":{"settings":{"spiderX":"/"}}}`),
			c: &kv.Client{Email: "alice", UUID: uuid},
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&security=reality&spx=%2Fccff3cf6c0a952f&type=tcp#VL-alice"}},
		{name: "disableFlow drops the flow",
			in: func() *kv.Inbound {
				in := inbound("vless", "VL", "", 443, vlessNone, reality)
				in.DisableFlow = true
				return in
			}(),
			c: alice("xtls-rprx-vision"),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&fp=firefox&pbk=PBK&security=reality&sid=ab12" +
				"&sni=r.example&spx=%2Fc252fbc3ecd3e3c&type=tcp#VL-alice"}},
		{name: "grpc multi mode",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"grpc","security":"none",`+
				`"grpcSettings":{"serviceName":"svc","multiMode":true}}`),
			want: []string{"vless://" + uuid + "@example.com:443?authority=&encryption=none" +
				"&mode=multi&security=none&serviceName=svc&type=grpc#VL-alice"}},
		{name: "httpupgrade",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"httpupgrade",`+
				`"httpupgradeSettings":{"path":"/up","host":"u.example"}}`),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&host=u.example&path=%2Fup&security=none&type=httpupgrade#VL-alice"}},
		{name: "xhttp with extra",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"xhttp","xhttpSettings":{`+
				`"path":"/x","host":"x.example","mode":"packet-up","xPaddingBytes":"100-1000",`+
				`"scMaxEachPostBytes":"1000000","scMinPostsIntervalMs":"50","noSSEHeader":true,`+
				`"headers":{"Host":"ignored","X-A":"b"},"xmux":{"maxConcurrency":"16-32"}}}`),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&extra=%7B%22headers%22%3A%7B%22X-A%22%3A%22b%22%7D%2C%22mode%22%3A" +
				"%22packet-up%22%2C%22scMinPostsIntervalMs%22%3A%2250%22%2C" +
				"%22xPaddingBytes%22%3A%22100-1000%22%2C%22xmux%22%3A%7B" +
				"%22maxConcurrency%22%3A%2216-32%22%7D%7D" +
				"&host=x.example&mode=packet-up&path=%2Fx&security=none&type=xhttp" +
				"&x_padding_bytes=100-1000#VL-alice"}},
		{name: "xhttp with vless encryption carries the flow",
			in: inbound("vless", "VL", "", 443,
				`{"decryption":"mlkem768x25519plus.native.600s.S","encryption":"mlkem768x25519plus.native.0rtt.C"}`,
				`{"network":"xhttp","security":"none","xhttpSettings":{"path":"/"}}`),
			c: alice("xtls-rprx-vision"),
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?encryption=mlkem768x25519plus.native.0rtt.C&flow=xtls-rprx-vision" +
				"&host=&path=%2F&security=none&type=xhttp#VL-alice"}},
		{name: "decrypting inbound without encryption names none",
			in: inbound("vless", "VL", "", 443, `{"decryption":"mlkem768x25519plus.native.600s.S"}`,
				`{"network":"ws","wsSettings":{"path":"/w"}}`),
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?host=&path=%2Fw&security=none&type=ws#VL-alice"}},
		{name: "tcp http header",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"tcp","tcpSettings":{`+
				`"header":{"type":"http","request":{"path":["/a","/b"],"headers":{"Host":["req.example"]}},`+
				`"response":{"headers":{"host":"resp.example"}}}}}`),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&headerType=http&host=resp.example&path=%2Fa&security=none&type=tcp#VL-alice"}},
		{name: "raw is tcp",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"raw","rawSettings":{`+
				`"header":{"type":"http","request":{"headers":{"Host":["req.example"]}}}}}`),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&headerType=http&host=req.example&security=none&type=tcp#VL-alice"}},
		{name: "kcp",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"kcp","kcpSettings":{`+
				`"header":{"type":"wechat-video"},"seed":"s33d","mtu":1350,"tti":20}}`),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&headerType=wechat-video&mtu=1350&security=none&seed=s33d&tti=20&type=kcp#VL-alice"}},
		{name: "kcp from legacy finalmask masks",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"network":"kcp","finalmask":{"udp":[`+
				`{"type":"mkcp-legacy","settings":{"header":"dns"}},`+
				`{"type":"mkcp-legacy","settings":{"value":"pw"}}]}}`),
			want: []string{"vless://" + uuid + "@example.com:443?encryption=none" +
				"&fm=%7B%22udp%22%3A%5B%7B%22settings%22%3A%7B%22header%22%3A%22dns%22%7D%2C" +
				"%22type%22%3A%22mkcp-legacy%22%7D%2C%7B%22settings%22%3A%7B%22value%22%3A" +
				"%22pw%22%7D%2C%22type%22%3A%22mkcp-legacy%22%7D%5D%7D" +
				"&headerType=dns&security=none&seed=pw&type=kcp#VL-alice"}},
		{name: "empty finalmask adds no fm",
			in: inbound("vless", "VL", "", 443, vlessNone, `{"finalmask":{"tcp":[],"udp":[{}]}}`),
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?encryption=none&security=none&type=tcp#VL-alice"}},
		{name: "client without uuid has no link",
			in: inbound("vless", "VL", "", 443, vlessNone, `{}`),
			c:  &kv.Client{Email: "alice"}},
	})
}

func TestOf_Host(t *testing.T) {
	plain := `{"network":"tcp","security":"none"}`
	want := func(host string) []string {
		return []string{"vless://" + uuid + "@" + host +
			"?encryption=none&security=none&type=tcp#VL-alice"}
	}
	runCases(t, []linkCase{
		{name: "routable listen wins", host: "example.com",
			in: inbound("vless", "VL", "203.0.113.5", 443, vlessNone, plain), want: want("203.0.113.5:443")},
		{name: "ipv6 listen is bracketed",
			in: inbound("vless", "VL", "2001:DB8::1", 443, vlessNone, plain), want: want("[2001:db8::1]:443")},
		{name: "loopback listen gives the host",
			in: inbound("vless", "VL", "127.0.0.1", 8443, vlessNone, plain), want: want("example.com:8443")},
		{name: "wildcard listen gives the host",
			in: inbound("vless", "VL", "::", 443, vlessNone, plain), want: want("example.com:443")},
		{name: "ipv6 host is bracketed", host: "2001:db8::2",
			in: inbound("vless", "VL", "0.0.0.0", 443, vlessNone, plain), want: want("[2001:db8::2]:443")},
		{name: "remark parts and fragment escaping",
			in: inbound("vless", "My VPN #1", "", 443, vlessNone, plain),
			c:  &kv.Client{Email: "a+b@x", UUID: uuid},
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?encryption=none&security=none&type=tcp#My%20VPN%20%231-a%2Bb%40x"}},
		{name: "no inbound remark",
			in: inbound("vless", "", "", 443, vlessNone, plain),
			want: []string{"vless://" + uuid + "@example.com:443" +
				"?encryption=none&security=none&type=tcp#alice"}},
	})
}

func TestOf_ExternalProxy(t *testing.T) {
	tlsBase := `"network":"tcp","security":"tls","tcpSettings":{"header":{"type":"none"}},` +
		`"tlsSettings":{"serverName":"base.sni","alpn":["h2"],"settings":{"fingerprint":"chrome"}}`
	user := &kv.Client{Email: "user", UUID: uuid, Password: "p@ss/w+rd=", Security: "auto"}
	runCases(t, []linkCase{
		{name: "vless tls and none entries",
			in: inbound("vless", "char", "203.0.113.1", 443, `{"decryption":"none","encryption":"none"}`,
				`{`+tlsBase+`,"externalProxy":[`+
					`{"forceTls":"tls","dest":"cdn1.example.com","port":8443,"remark":"R1",`+
					`"sni":"sni1.example.com","fingerprint":"firefox","alpn":["h3","h2"],`+
					`"pinnedPeerCertSha256":["UElO"]},`+
					`{"forceTls":"none","dest":"cdn2.example.com","port":80,"remark":"R2"}]}`),
			c: user,
			want: []string{
				"vless://" + uuid + "@cdn1.example.com:8443?alpn=h3%2Ch2&encryption=none" +
					"&fp=firefox&pcs=UElO&security=tls&sni=sni1.example.com&type=tcp#char-R1-user",
				"vless://" + uuid + "@cdn2.example.com:80?encryption=none&security=none" +
					"&type=tcp#char-R2-user",
			}},
		{name: "entry without dest or port borrows the inbound's",
			in: inbound("vless", "VL", "", 443, vlessNone,
				`{"externalProxy":[{"forceTls":"same","remark":"X"},"junk",{"dest":" d.example ","port":0}]}`),
			want: []string{
				"vless://" + uuid + "@example.com:443?encryption=none&security=none&type=tcp#VL-X-alice",
				"vless://" + uuid + "@d.example:443?encryption=none&security=none&type=tcp#VL-alice",
			}},
		{name: "trojan entry overrides the sni",
			in: inbound("trojan", "char", "203.0.113.1", 443, `{}`,
				`{"network":"tcp","security":"tls","tcpSettings":{"header":{"type":"none"}},`+
					`"tlsSettings":{"serverName":"base.sni","settings":{"fingerprint":"chrome"}},`+
					`"externalProxy":[{"forceTls":"tls","dest":"tj.example.com","port":8443,`+
					`"remark":"TJ","sni":"tj.sni"}]}`),
			c: user,
			want: []string{"trojan://p%40ss%2Fw%2Brd%3D@tj.example.com:8443?fp=chrome" +
				"&security=tls&sni=tj.sni&type=tcp#char-TJ-user"}},
		{name: "shadowsocks 2022 entry with tls",
			in: inbound("shadowsocks", "char", "203.0.113.1", 443,
				`{"method":"2022-blake3-aes-256-gcm","password":"inboundpw"}`,
				`{"network":"tcp","security":"tls","tlsSettings":{"serverName":"base.sni",`+
					`"settings":{"fingerprint":"chrome"}},"externalProxy":[{"forceTls":"tls",`+
					`"dest":"ss.example.com","port":8443,"remark":"SS","sni":"ss.sni"}]}`),
			c: &kv.Client{Email: "user", Password: "clientpw"},
			want: []string{"ss://2022-blake3-aes-256-gcm:inboundpw:clientpw@ss.example.com:8443" +
				"?fp=chrome&security=tls&sni=ss.sni&type=tcp#char-SS-user"}},
		{name: "shadowsocks entry without tls names none",
			in: inbound("shadowsocks", "SS", "", 8388, `{"method":"aes-256-gcm"}`,
				`{"externalProxy":[{"forceTls":"same","dest":"e.example","port":1}]}`),
			c: &kv.Client{Email: "alice", Password: "pw+/="},
			want: []string{"ss://YWVzLTI1Ni1nY206cHcrLz0@e.example:1" +
				"?security=none&type=tcp#SS-alice"}},
		{name: "vmess same and none entries",
			in: inbound("vmess", "char", "203.0.113.1", 443, `{}`, `{`+tlsBase+`,"externalProxy":[`+
				`{"forceTls":"same","dest":"vm1.example.com","port":8443,"remark":"V1","sni":"sni1.example.com"},`+
				`{"forceTls":"none","dest":"vm2.example.com","port":80,"remark":"V2"}]}`),
			c: user,
			want: []string{
				"vmess://ewogICJhZGQiOiAidm0xLmV4YW1wbGUuY29tIiwKICAiYWxwbiI6ICJoMiIsCiAgImZwIjogImNocm9tZSIsCiAgImlkIjogIjExMTExMTExLTIyMjItNDMzMy04NDQ0LTU1NTU1NTU1NTU1NSIsCiAgIm5ldCI6ICJ0Y3AiLAogICJwb3J0IjogODQ0MywKICAicHMiOiAiY2hhci1WMS11c2VyIiwKICAic2N5IjogImF1dG8iLAogICJzbmkiOiAic25pMS5leGFtcGxlLmNvbSIsCiAgInRscyI6ICJ0bHMiLAogICJ0eXBlIjogIm5vbmUiLAogICJ2IjogIjIiCn0=",
				"vmess://ewogICJhZGQiOiAidm0yLmV4YW1wbGUuY29tIiwKICAiaWQiOiAiMTExMTExMTEtMjIyMi00MzMzLTg0NDQtNTU1NTU1NTU1NTU1IiwKICAibmV0IjogInRjcCIsCiAgInBvcnQiOiA4MCwKICAicHMiOiAiY2hhci1WMi11c2VyIiwKICAic2N5IjogImF1dG8iLAogICJ0bHMiOiAibm9uZSIsCiAgInR5cGUiOiAibm9uZSIsCiAgInYiOiAiMiIKfQ==",
			}},
	})
}

func TestOf_Trojan(t *testing.T) {
	reality := `{"network":"tcp","security":"reality","realitySettings":{` +
		`"serverNames":["r.example"],"settings":{"publicKey":"PBK"}}}`
	runCases(t, []linkCase{
		{name: "tls with an escaped password",
			in: inbound("trojan", "TJ", "", 443, `{}`, `{"network":"tcp","security":"tls",`+
				`"tlsSettings":{"serverName":"tj.sni","settings":{"fingerprint":"chrome"}}}`),
			c: alice("xtls-rprx-vision"),
			want: []string{"trojan://p%40ss%2Fw%2Brd%3D%20x@example.com:443" +
				"?fp=chrome&security=tls&sni=tj.sni&type=tcp#TJ-alice"}},
		{name: "reality over tcp carries the flow",
			in: inbound("trojan", "TJ", "", 443, `{}`, reality),
			c:  alice("xtls-rprx-vision"),
			want: []string{"trojan://p%40ss%2Fw%2Brd%3D%20x@example.com:443" +
				"?flow=xtls-rprx-vision&pbk=PBK&security=reality&sni=r.example" +
				"&spx=%2F21aaccd450e801b&type=tcp#TJ-alice"}}, // sha256("|subAlice")
		{name: "ws without security",
			in: inbound("trojan", "TJ", "", 443, `{}`, `{"network":"ws","wsSettings":{"path":"/t"}}`),
			want: []string{"trojan://p%40ss%2Fw%2Brd%3D%20x@example.com:443" +
				"?host=&path=%2Ft&security=none&type=ws#TJ-alice"}},
		{name: "client without password has no link",
			in: inbound("trojan", "TJ", "", 443, `{}`, `{}`),
			c:  &kv.Client{Email: "alice", UUID: uuid}},
	})
}

func TestOf_Shadowsocks(t *testing.T) {
	legacy := `{"method":"aes-256-gcm"}`
	ss := &kv.Client{Email: "alice", Password: "pw+/="}
	runCases(t, []linkCase{
		{name: "legacy cipher is base64url without padding",
			in:   inbound("shadowsocks", "SS", "", 8388, legacy, `{"network":"tcp","security":"none"}`),
			c:    ss,
			want: []string{"ss://YWVzLTI1Ni1nY206cHcrLz0@example.com:8388?type=tcp#SS-alice"}},
		{name: "2022 cipher with server and user keys",
			in: inbound("shadowsocks", "SS", "", 8388,
				`{"method":"2022-blake3-aes-128-gcm","password":"AAECAwQFBgcICQoLDA0ODw=="}`, `{}`),
			c: &kv.Client{Email: "alice", Password: "+/+/AAAAAAAAAAAAAAAAAA=="},
			want: []string{"ss://2022-blake3-aes-128-gcm:AAECAwQFBgcICQoLDA0ODw%3D%3D" +
				":%2B%2F%2B%2FAAAAAAAAAAAAAAAAAA%3D%3D@example.com:8388?type=tcp#SS-alice"}},
		{name: "tls",
			in: inbound("shadowsocks", "SS", "", 8388, legacy, `{"network":"tcp","security":"tls",`+
				`"tlsSettings":{"serverName":"ss.sni","alpn":"h2, http/1.1"}}`),
			c: ss,
			want: []string{"ss://YWVzLTI1Ni1nY206cHcrLz0@example.com:8388" +
				"?alpn=h2%2Chttp%2F1.1&security=tls&sni=ss.sni&type=tcp#SS-alice"}},
		{name: "reality is not named",
			in:   inbound("shadowsocks", "SS", "", 8388, legacy, `{"security":"reality"}`),
			c:    ss,
			want: []string{"ss://YWVzLTI1Ni1nY206cHcrLz0@example.com:8388?type=tcp#SS-alice"}},
		{name: "tcp http header becomes the obfs plugin",
			in: inbound("shadowsocks", "SS", "", 8388, legacy, `{"network":"tcp","tcpSettings":{`+
				`"header":{"type":"http","request":{"path":["/"],"headers":{"Host":["test"]}}}}}`),
			c: ss,
			want: []string{"ss://YWVzLTI1Ni1nY206cHcrLz0@example.com:8388" +
				"?plugin=obfs-local%3Bobfs%3Dhttp%3Bobfs-host%3Dtest#SS-alice"}},
		{name: "ws",
			in: inbound("shadowsocks", "SS", "", 8388, legacy,
				`{"network":"ws","wsSettings":{"path":"/s","host":"s.example"}}`),
			c: ss,
			want: []string{"ss://YWVzLTI1Ni1nY206cHcrLz0@example.com:8388" +
				"?host=s.example&path=%2Fs&type=ws#SS-alice"}},
		{name: "no method has no link",
			in: inbound("shadowsocks", "SS", "", 8388, `{}`, `{}`), c: ss},
	})
}

func TestOf_VMess(t *testing.T) {
	runCases(t, []linkCase{
		{name: "tcp tls",
			in: inbound("vmess", "VM", "", 443, `{}`, `{"network":"tcp","security":"tls",`+
				`"tlsSettings":{"serverName":"sni.example","alpn":["h2"],"settings":{"fingerprint":"chrome"}}}`),
			want: []string{vm(`{
  "add": "example.com",
  "alpn": "h2",
  "fp": "chrome",
  "id": "` + uuid + `",
  "net": "tcp",
  "port": 443,
  "ps": "VM-alice",
  "scy": "auto",
  "sni": "sni.example",
  "tls": "tls",
  "type": "none",
  "v": "2"
}`)}},
		{name: "ws with a cipher",
			in: inbound("vmess", "VM", "", 443, `{}`, `{"network":"ws","security":"none",`+
				`"wsSettings":{"path":"/p","host":"h.example"}}`),
			c: &kv.Client{Email: "alice", UUID: uuid, Security: "aes-128-gcm"},
			want: []string{vm(`{
  "add": "example.com",
  "host": "h.example",
  "id": "` + uuid + `",
  "net": "ws",
  "path": "/p",
  "port": 443,
  "ps": "VM-alice",
  "scy": "aes-128-gcm",
  "tls": "none",
  "type": "none",
  "v": "2"
}`)}},
		{name: "grpc multi on an ipv6 listen",
			in: inbound("vmess", "VM", "2001:db8::1", 443, `{}`, `{"network":"grpc",`+
				`"grpcSettings":{"serviceName":"svc","authority":"a.example","multiMode":true}}`),
			c: &kv.Client{Email: "alice", UUID: uuid, Security: "zero"},
			want: []string{vm(`{
  "add": "2001:db8::1",
  "authority": "a.example",
  "id": "` + uuid + `",
  "net": "grpc",
  "path": "svc",
  "port": 443,
  "ps": "VM-alice",
  "scy": "auto",
  "tls": "none",
  "type": "multi",
  "v": "2"
}`)}},
		{name: "kcp",
			in: inbound("vmess", "VM", "", 443, `{}`, `{"network":"kcp","kcpSettings":{`+
				`"header":{"type":"srtp"},"seed":"s33d","mtu":1350,"tti":20}}`),
			want: []string{vm(`{
  "add": "example.com",
  "id": "` + uuid + `",
  "mtu": 1350,
  "net": "kcp",
  "path": "s33d",
  "port": 443,
  "ps": "VM-alice",
  "scy": "auto",
  "tls": "none",
  "tti": 20,
  "type": "srtp",
  "v": "2"
}`)}},
		{name: "xhttp flattens extra",
			in: inbound("vmess", "VM", "", 443, `{}`, `{"network":"xhttp","xhttpSettings":{`+
				`"path":"/x","host":"x.example","mode":"auto","xPaddingBytes":"100-1000","noGRPCHeader":true}}`),
			want: []string{vm(`{
  "add": "example.com",
  "host": "x.example",
  "id": "` + uuid + `",
  "mode": "auto",
  "net": "xhttp",
  "noGRPCHeader": true,
  "path": "/x",
  "port": 443,
  "ps": "VM-alice",
  "scy": "auto",
  "tls": "none",
  "type": "none",
  "v": "2",
  "xPaddingBytes": "100-1000",
  "x_padding_bytes": "100-1000"
}`)}},
		{name: "tcp http header",
			in: inbound("vmess", "VM", "", 443, `{}`, `{"network":"tcp","tcpSettings":{"header":{`+
				`"type":"http","request":{"path":["/a"],"headers":{"Host":["h1.example","h2.example"]}}}}}`),
			want: []string{vm(`{
  "add": "example.com",
  "host": "h1.example",
  "id": "` + uuid + `",
  "net": "tcp",
  "path": "/a",
  "port": 443,
  "ps": "VM-alice",
  "scy": "auto",
  "tls": "none",
  "type": "http",
  "v": "2"
}`)}},
	})
}

func TestOf_Hysteria(t *testing.T) {
	zeroPin := base64.StdEncoding.EncodeToString(make([]byte, 32))
	stream := `{"security":"tls","tlsSettings":{"serverName":"hy.example","alpn":["h3"],` +
		`"settings":{"pinnedPeerCertSha256":["` + zeroPin + `"]}},"finalmask":{` +
		`"udp":[{"type":"salamander","settings":{"password":"obfs pw"}}],` +
		`"quicParams":{"udpHop":{"ports":"20000-30000"}}}}`
	zeros := strings.Repeat("0", 64)
	runCases(t, []linkCase{
		{name: "version 2 with obfs, hops and a pin",
			in: inbound("hysteria", "HY", "", 9443, `{"version":2}`, stream),
			want: []string{"hysteria2://a%20b%2Fc@example.com:9443?alpn=h3&mport=20000-30000" +
				"&obfs=salamander&obfs-password=obfs+pw&pinSHA256=" + zeros +
				"&security=tls&sni=hy.example#HY-alice"}},
		{name: "version 1",
			in:   inbound("hysteria", "HY", "", 9443, `{"version":1}`, `{}`),
			want: []string{"hysteria://a%20b%2Fc@example.com:9443?security=tls#HY-alice"}},
		{name: "external proxy lends address, pins and insecure only",
			in: inbound("hysteria", "HY", "", 9443, `{"version":2}`,
				`{"security":"tls","tlsSettings":{"serverName":"hy.example"},"externalProxy":[`+
					`{"forceTls":"none","dest":"hop.example","port":10443,"remark":"H1","sni":"x",`+
					`"allowInsecure":true,"pinnedPeerCertSha256":["`+
					strings.Repeat("AB:", 31)+`AB"]}]}`),
			want: []string{"hysteria2://a%20b%2Fc@hop.example:10443?insecure=1&pinSHA256=" +
				strings.Repeat("ab", 32) + "&security=tls&sni=hy.example#HY-H1-alice"}},
	})
}

func TestOf_NoLinks(t *testing.T) {
	for _, protocol := range []string{"http", "mixed", "wireguard", "mtproto", ""} {
		t.Run(protocol, func(t *testing.T) {
			if got := links.Of(inbound(protocol, "X", "", 1, `{}`, `{}`), alice(""), "h"); got != nil {
				t.Fatalf("links of %q: %q, want none", protocol, got)
			}
		})
	}
}

func TestOf_RealityPicks(t *testing.T) {
	in := inbound("vless", "VL", "", 443, vlessNone, `{"security":"reality","realitySettings":{`+
		`"serverNames":["a.example","b.example"],"shortIds":["","01","02"]}}`)
	sni := regexp.MustCompile(`[?&]sni=([a-z.]+)`)
	sid := regexp.MustCompile(`[?&]sid=([0-9]+)`)
	seen := map[string]bool{}
	for range 200 {
		link := links.Of(in, alice(""), "h")[0]
		s, id := sni.FindStringSubmatch(link), sid.FindStringSubmatch(link)
		if s == nil || id == nil {
			t.Fatalf("link lacks sni or a non-empty sid: %s", link)
		}
		seen[s[1]], seen[id[1]] = true, true
	}
	for _, v := range []string{"a.example", "b.example", "01", "02"} {
		if !seen[v] {
			t.Errorf("%s never picked in 200 links", v)
		}
	}
}

func TestOf_RandomSpiderPath(t *testing.T) {
	in := inbound("vless", "VL", "", 443, vlessNone, `{"security":"reality"}`)
	c := &kv.Client{UUID: uuid}
	spx := regexp.MustCompile(`[?&]spx=%2F([0-9a-f]{15})(&|#|$)`)
	first := spx.FindStringSubmatch(links.Of(in, c, "h")[0])
	second := spx.FindStringSubmatch(links.Of(in, c, "h")[0])
	if first == nil || second == nil {
		t.Fatalf("spx is not a 15-digit hex path")
	}
	if first[1] == second[1] {
		t.Errorf("two random spider paths are equal: %s", first[1])
	}
}

func TestDefaultHost(t *testing.T) {
	cases := []struct{ public, header, want string }{
		{"vpn.example", "panel.example:2053", "vpn.example"},
		{"2001:db8::9", "panel.example", "2001:db8::9"},
		{"", "panel.example:2053", "panel.example"},
		{"", "panel.example", "panel.example"},
		{"", "203.0.113.7:80", "203.0.113.7"},
		{"", "[2001:db8::1]:8080", "2001:db8::1"},
		{"", "127.0.0.1:8080", "localhost"},
		{"", "[::1]:80", "localhost"},
		{"", "0.0.0.0", "localhost"},
		{"", "", "localhost"},
		{"", "evil.example/path?x#y", "localhost"},
		{"", "a b", "localhost"},
	}
	for _, tc := range cases {
		t.Run(tc.public+"|"+tc.header, func(t *testing.T) {
			if got := links.DefaultHost(tc.public, tc.header); got != tc.want {
				t.Fatalf("DefaultHost(%q, %q) = %q, want %q", tc.public, tc.header, got, tc.want)
			}
		})
	}
}

func TestExternal(t *testing.T) {
	const now = 1_800_000_000_000
	vmessIn := vm(`{"add":"x","ps":"old","port":1}`)
	cases := []struct {
		name string
		link kv.ExternalLink
		want string
		ok   bool
	}{
		{"kept as is", kv.ExternalLink{Kind: "link", Value: " vless://a@b:1#n ", Enable: true},
			"vless://a@b:1#n", true},
		{"renamed by its remark", kv.ExternalLink{Kind: "link", Value: "trojan://p@h:1?x=1#old",
			Remark: " New name ", Enable: true}, "trojan://p@h:1?x=1#New%20name", true},
		{"named when it had no fragment", kv.ExternalLink{Value: "ss://u@h:1", Remark: "r#1",
			Enable: true}, "ss://u@h:1#r%231", true},
		{"vmess ps rewritten", kv.ExternalLink{Kind: "link", Value: vmessIn, Remark: "new",
			Enable: true}, vm(`{
  "add": "x",
  "port": 1,
  "ps": "new"
}`), true},
		{"broken vmess kept", kv.ExternalLink{Value: "vmess://%%%", Remark: "new", Enable: true},
			"vmess://%%%", true},
		{"future expiry", kv.ExternalLink{Value: "ss://u@h:1", Enable: true, ExpiryTime: now + 1},
			"ss://u@h:1", true},
		{"disabled", kv.ExternalLink{Value: "ss://u@h:1"}, "", false},
		{"expired", kv.ExternalLink{Value: "ss://u@h:1", Enable: true, ExpiryTime: now}, "", false},
		{"subscription", kv.ExternalLink{Kind: "subscription", Value: "https://h/s", Enable: true},
			"", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := links.External(tc.link, now)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("External = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
