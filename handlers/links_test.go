package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

// linksOf calls the links route of email and returns its obj.
func (a *api) linksOf(email string) []string {
	a.t.Helper()
	var out []string
	a.ok("GET", "/panel/api/clients/links/"+email, nil, &out)
	return out
}

func TestClients_Links(t *testing.T) {
	a := newAPI(t)
	vl := a.vlessInbound(1401)
	tj := a.inbound(map[string]any{
		"remark": "TJ", "enable": true, "port": 1402, "protocol": "trojan",
		"shareAddr": "edge.test", "settings": map[string]any{},
		"streamSettings": map[string]any{"network": "ws", "security": "none",
			"wsSettings": map[string]any{"path": "/t"}},
	})
	a.addClient(map[string]any{"email": "alice", "password": "p@ss"}, tj, vl)
	a.addClient(map[string]any{"email": "lonely"}, vl)
	a.ok("POST", "/panel/api/clients/lonely/detach", map[string]any{"inboundIds": []int64{vl}}, nil)
	uuid := a.mustClient("alice").UUID

	t.Run("one link per inbound in id order", func(t *testing.T) {
		got := a.linksOf("alice")
		want := []string{
			"vless://" + uuid + "@localhost:1401?encryption=none&security=none&type=tcp#vless-alice",
			"trojan://p%40ss@edge.test:1402?host=&path=%2Ft&security=none&type=ws#TJ-alice",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("links =\n%q\nwant\n%q", got, want)
		}
	})

	t.Run("the request host is advertised", func(t *testing.T) {
		req, _ := http.NewRequest("GET", a.base+"/panel/api/clients/links/alice", nil)
		req.Host = "panel.example:2053"
		req.Header.Set("Authorization", "Bearer "+readOnlyToken)
		resp, err := a.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var env struct {
			Obj []string `json:"obj"`
		}
		if err := json.Unmarshal(body, &env); err != nil || len(env.Obj) != 2 {
			t.Fatalf("answer %s: %v", body, err)
		}
		if !strings.Contains(env.Obj[0], "@panel.example:1401?") {
			t.Errorf("link = %s, want it at the request's host", env.Obj[0])
		}
		if !strings.Contains(env.Obj[1], "@edge.test:1402?") {
			t.Errorf("link = %s, want the inbound's share address", env.Obj[1])
		}
	})

	t.Run("a client on no inbound has null", func(t *testing.T) {
		env := a.ok("GET", "/panel/api/clients/links/lonely", nil, nil)
		if string(env.Obj) != "null" {
			t.Errorf("obj = %s, want null", env.Obj)
		}
	})

	t.Run("unknown email", func(t *testing.T) {
		a.refused("GET", "/panel/api/clients/links/nobody", nil, "Obtain (record not found)")
	})
}

func TestClients_SubLinks(t *testing.T) {
	a := newAPI(t)
	vl := a.vlessInbound(1411)
	off := a.vlessInbound(1412)
	a.ok("POST", "/panel/api/inbounds/setEnable/2", map[string]any{"enable": false}, nil)
	a.addClient(map[string]any{"email": "alice", "subId": "sa", "enable": false}, vl, off)
	a.ok("POST", "/panel/api/clients/alice/externalLinks", map[string]any{"externalLinks": []any{
		map[string]any{"kind": "link", "value": "ss://YWVzLTI1Ni1nY206cHc@r.test:1#x",
			"remark": "Extra"},
	}}, nil)
	uuid := a.mustClient("alice").UUID

	var got []string
	a.ok("GET", "/panel/api/clients/subLinks/sa", nil, &got)
	want := []string{
		"vless://" + uuid + "@localhost:1411?encryption=none&security=none&type=tcp#vless-alice",
		"ss://YWVzLTI1Ni1nY206cHc@r.test:1#Extra",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("subLinks =\n%q\nwant the enabled inbound's link and the external one\n%q",
			got, want)
	}

	env := a.ok("GET", "/panel/api/clients/subLinks/unknown", nil, nil)
	if string(env.Obj) != "[]" {
		t.Errorf("unknown subId: obj = %s, want []", env.Obj)
	}
}

func TestInbounds_ShareAddr(t *testing.T) {
	a := newAPI(t)
	base := func(extra map[string]any) map[string]any {
		body := map[string]any{"remark": "x", "enable": true, "port": 1421,
			"protocol": "vless", "settings": map[string]any{"decryption": "none"},
			"streamSettings": map[string]any{"network": "tcp", "security": "none"}}
		for k, v := range extra {
			body[k] = v
		}
		return body
	}
	cases := []struct {
		name  string
		extra map[string]any
		msg   string
	}{
		{"share address with a port", map[string]any{"shareAddr": "edge.test:443"},
			"Something went wrong (inbound shareAddr must be empty or a host name or IP address without port, got: edge.test:443)"},
		{"share address with a path", map[string]any{"shareAddr": "edge.test/x"},
			"Something went wrong (inbound shareAddr must be empty or a host name or IP address without port, got: edge.test/x)"},
		{"reality over ws", map[string]any{"streamSettings": map[string]any{
			"network": "ws", "security": "reality"}},
			"Something went wrong (streamSettings.security reality works only over tcp, raw, xhttp and grpc, not ws)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.unchanged(func() {
				a.refused("POST", "/panel/api/inbounds/add", base(c.extra), c.msg)
			})
		})
	}

	t.Run("an IPv6 share address is kept and answered", func(t *testing.T) {
		var in struct {
			ShareAddr string `json:"shareAddr"`
		}
		a.ok("POST", "/panel/api/inbounds/add", base(map[string]any{"shareAddr": " 2001:db8::1 "}),
			&in)
		if in.ShareAddr != "2001:db8::1" {
			t.Errorf("shareAddr = %q, want it trimmed", in.ShareAddr)
		}
	})
}
