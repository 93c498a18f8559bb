package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"time"

	json "github.com/goccy/go-json"
	lua "github.com/yuin/gopher-lua"
)

// Bounds of xpanel.http_post.
const (
	defaultPostTimeout = 5 * time.Second
	maxPostTimeout     = 30 * time.Second
	maxAnswerBytes     = 64 << 10 // of the answer body handed back
	signatureHeader    = "X-Signature"
)

// luaHTTPPost sends a webhook: xpanel.http_post(url, body, opts). body
// is a string, or a table sent as JSON. opts: timeout (seconds, default
// 5, at most 30), headers (a table), secret (signs the body with
// HMAC-SHA256 into the header signature_header, "X-Signature" unless
// named, as "sha256=<hex>"). It returns {status=, body=}, or nil and
// the error. The wait does not count against the call's time limit.
func (sc *script) luaHTTPPost(L *lua.LState) int {
	opts := L.OptTable(3, L.NewTable())
	timeout := defaultPostTimeout
	if n, ok := opts.RawGetString("timeout").(lua.LNumber); ok && n > 0 {
		timeout = min(time.Duration(float64(n)*float64(time.Second)), maxPostTimeout)
	}
	ctx, cancel := context.WithTimeout(sc.eng.ctx, timeout)
	defer cancel()
	req := newPost(ctx, L, opts)

	var status int
	var answer []byte
	err := sc.waiting(func() error {
		resp, err := sc.eng.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		answer, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
		return err
	})
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	out := L.NewTable()
	out.RawSetString("status", lua.LNumber(status))
	out.RawSetString("body", lua.LString(answer))
	L.Push(out)
	return 1
}

// newPost builds the request of xpanel.http_post from its arguments:
// the URL, the body, and the headers and signature opts asks for.
func newPost(ctx context.Context, L *lua.LState, opts *lua.LTable) *http.Request {
	target := L.CheckString(1)
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		L.ArgError(1, "want an http or https URL")
	}
	body, contentType := postBody(L, L.Get(2))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		L.ArgError(1, err.Error())
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "xpanel-hooks")
	if h, ok := opts.RawGetString("headers").(*lua.LTable); ok {
		h.ForEach(func(k, v lua.LValue) { req.Header.Set(lua.LVAsString(k), lua.LVAsString(v)) })
	}
	if secret := lua.LVAsString(opts.RawGetString("secret")); secret != "" {
		name := lua.LVAsString(opts.RawGetString("signature_header"))
		if name == "" {
			name = signatureHeader
		}
		req.Header.Set(name, "sha256="+sign(secret, body))
	}
	return req
}

// postBody encodes the body argument: a string as sent, a table as JSON.
func postBody(L *lua.LState, v lua.LValue) ([]byte, string) {
	switch v := v.(type) {
	case lua.LString:
		return []byte(v), "text/plain; charset=utf-8"
	case *lua.LTable:
		x, err := fromLua(v, 0)
		if err == nil {
			var b []byte
			if b, err = json.Marshal(x); err == nil {
				return b, "application/json"
			}
		}
		L.ArgError(2, err.Error())
	case *lua.LNilType:
		return nil, "text/plain; charset=utf-8"
	default:
		L.ArgError(2, "want a string or a table")
	}
	return nil, ""
}

// sign is the hex HMAC-SHA256 of body under secret.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// luaHMAC is xpanel.hmac_sha256(secret, data): the hex digest.
func luaHMAC(L *lua.LState) int {
	L.Push(lua.LString(sign(L.CheckString(1), []byte(L.CheckString(2)))))
	return 1
}
