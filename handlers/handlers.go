// Package handlers serves xpanel's HTTP API: the clients and inbounds
// endpoints, wire-compatible with 3x-ui's, behind Bearer tokens. A
// handler decodes, calls one panel operation, and answers through the
// envelope helpers, which decide the wire format in one place.
package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/panel"
)

// routeKey is the request value under which the matched route is kept.
const routeKey = "xpanel.route"

// apiPrefix is the path every API route lives under.
const apiPrefix = "/panel/api/"

// Token is an API token the server accepts, kept as its SHA-256 hash.
type Token struct {
	Hash     [32]byte
	ReadOnly bool // may call GET routes and the read-only POSTs only
}

// HashToken returns the hash under which a token is kept.
func HashToken(token string) [32]byte {
	return sha256.Sum256([]byte(token))
}

// Handler serves the API. Build it with New.
type Handler struct {
	svc     *panel.Service
	tokens  atomic.Pointer[[]Token] // replaced whole by SetTokens
	log     *slog.Logger
	router  *router.Router
	scripts Scripts // nil when no scripts run

	observer atomic.Pointer[RequestObserver] // nil: requests are not reported
	openapi  openAPI                         // the document, built on first request
	pages    pageParts                       // shared parts of the paged list's answers
}

// New returns a Handler answering with svc to callers holding one of the
// tokens.
func New(svc *panel.Service, tokens []Token, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log}
	h.SetTokens(tokens)
	h.router = router.New()
	h.router.RedirectTrailingSlash = false
	h.router.RedirectFixedPath = false
	h.router.HandleOPTIONS = false
	h.router.HandleMethodNotAllowed = false
	h.router.NotFound = func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
	h.routes()
	return h
}

// route is one entry of the route table.
type route struct {
	method, path string
	serve        fasthttp.RequestHandler
	readOnly     bool // callable with a read-only token
}

// routes registers every route of the API, one a line.
func (h *Handler) routes() {
	for _, r := range h.table() {
		h.router.Handle(r.method, r.path, h.guard(r))
	}
}

// Routes lists every registered route as "METHOD path".
func (h *Handler) Routes() []string {
	var out []string
	for method, paths := range h.router.List() {
		for _, p := range paths {
			out = append(out, method+" "+p)
		}
	}
	return out
}

func (h *Handler) table() []route {
	const c = "/panel/api/clients"
	const i = "/panel/api/inbounds"
	get, post := fasthttp.MethodGet, fasthttp.MethodPost
	return []route{
		{get, c + "/list", h.listClients, true},
		{get, c + "/list/paged", h.pagedClients, true},
		{get, c + "/get/{email}", h.getClient, true},
		{get, c + "/get/tgId/{tgId}", h.getByTgID, true},
		{get, c + "/traffic/{email}", h.clientTraffic, true},
		{get, c + "/export", h.exportClients, true},
		{get, c + "/groups", h.listGroups, true},
		{get, c + "/groups/{name}/emails", h.groupEmails, true},
		{get, c + "/links/{email}", h.clientLinks, true},
		{get, c + "/subLinks/{subId}", h.subLinks, true},
		{post, c + "/add", h.addClient, false},
		{post, c + "/update/{email}", h.updateClient, false},
		{post, c + "/del/{email}", h.deleteClient, false},
		{post, c + "/{email}/attach", h.attach, false},
		{post, c + "/{email}/detach", h.detach, false},
		{post, c + "/{email}/externalLinks", h.externalLinks, false},
		{post, c + "/import", h.importClients, false},
		{post, c + "/delOrphans", h.delOrphans, false},
		{post, c + "/delDepleted", h.delDepleted, false},
		{post, c + "/resetAllTraffics", h.resetAllTraffics, false},
		{post, c + "/resetTraffic/{email}", h.resetTraffic, false},
		{post, c + "/updateTraffic/{email}", h.updateTraffic, false},
		{post, c + "/bulkAdjust", h.bulkAdjust, false},
		{post, c + "/bulkEnable", h.bulkEnable, false},
		{post, c + "/bulkDisable", h.bulkDisable, false},
		{post, c + "/bulkDel", h.bulkDelete, false},
		{post, c + "/bulkCreate", h.bulkCreate, false},
		{post, c + "/bulkAttach", h.bulkAttach, false},
		{post, c + "/bulkDetach", h.bulkDetach, false},
		{post, c + "/bulkResetTraffic", h.bulkResetTraffic, false},
		{post, c + "/groups/create", h.createGroup, false},
		{post, c + "/groups/rename", h.renameGroup, false},
		{post, c + "/groups/delete", h.deleteGroup, false},
		{post, c + "/groups/resetTraffic", h.resetGroupTraffic, false},
		{post, c + "/groups/bulkAdd", h.groupAdd, false},
		{post, c + "/groups/bulkRemove", h.groupRemove, false},
		{post, c + "/ips/{email}", h.clientIPs, true},
		{post, c + "/clearIps/{email}", h.clearIPs, false},
		{post, c + "/onlines", h.onlines, true},
		{post, c + "/onlinesByGuid", h.onlinesByGUID, true},
		{post, c + "/clientIpsByGuid", h.clientIPsByGUID, true},
		{post, c + "/activeInbounds", h.activeInbounds, true},
		{post, c + "/lastOnline", h.lastOnline, true},
		{get, i + "/list", h.listInbounds, true},
		{get, i + "/get/{id}", h.getInbound, true},
		{post, i + "/add", h.addInbound, false},
		{post, i + "/update/{id}", h.updateInbound, false},
		{post, i + "/del/{id}", h.deleteInbound, false},
		{post, i + "/setEnable/{id}", h.setInboundEnabled, false},
		{get, "/panel/api/scripts", h.listScripts, true},
		{post, "/panel/api/scripts/reload", h.reloadScripts, false},
		{get, apiPrefix + "openapi.json", h.serveOpenAPI, true},
		{get, backupPath, h.backup, false},
	}
}

// Serve is the fasthttp request handler of the whole API.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	if o := h.observer.Load(); o != nil {
		defer observe(*o, ctx, time.Now())
	}
	defer h.recoverPanic(ctx)
	if !strings.HasPrefix(string(ctx.Path()), apiPrefix) {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	tok, ok := h.authenticate(ctx)
	if !ok {
		h.unauthenticated(ctx)
		return
	}
	ctx.SetUserValue(tokenKey, tok)
	h.router.Handler(ctx)
}

// tokenKey is the request value under which the caller's token is kept.
const tokenKey = "xpanel.token"

// authenticate finds the caller's token. Every stored token is compared,
// in constant time, so the answer time does not tell which came close.
func (h *Handler) authenticate(ctx *fasthttp.RequestCtx) (Token, bool) {
	presented, ok := strings.CutPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer ")
	if !ok || presented == "" {
		return Token{}, false
	}
	hash := HashToken(presented)
	var found Token
	matched := 0
	for _, t := range *h.tokens.Load() {
		eq := subtle.ConstantTimeCompare(hash[:], t.Hash[:])
		if eq == 1 {
			found = t
		}
		matched |= eq
	}
	return found, matched == 1
}

// unauthenticated answers with an empty 404 so that a scanner cannot tell
// a panel is there, or 401 to a browser script that asks.
func (h *Handler) unauthenticated(ctx *fasthttp.RequestCtx) {
	if string(ctx.Request.Header.Peek("X-Requested-With")) == "XMLHttpRequest" {
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNotFound)
}

// guard wraps a route with its name for the log and the token scope
// check.
func (h *Handler) guard(r route) fasthttp.RequestHandler {
	name := r.method + " " + r.path
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetUserValue(routeKey, name)
		if tok, _ := ctx.UserValue(tokenKey).(Token); tok.ReadOnly && !r.readOnly {
			ctx.SetStatusCode(fasthttp.StatusForbidden)
			h.write(ctx, fasthttp.StatusForbidden, envelope{
				Msg: "this API token is not permitted to access this endpoint"})
			return
		}
		r.serve(ctx)
	}
}

// decode reads the JSON body into v, answering the caller itself when
// the body does not decode.
func (h *Handler) decode(ctx *fasthttp.RequestCtx, v any) bool {
	body := ctx.PostBody()
	if len(body) == 0 {
		h.badBody(ctx, errEmptyBody)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		h.badBody(ctx, err)
		return false
	}
	return true
}

// param returns a path parameter, percent-decoded. The router matches
// the raw path, so its values arrive as sent: an email such as "имя"
// arrives escaped. A value that is not valid escaping is used as sent.
func param(ctx *fasthttp.RequestCtx, name string) string {
	v, _ := ctx.UserValue(name).(string)
	if decoded, err := url.PathUnescape(v); err == nil {
		return decoded
	}
	return v
}
