package handlers_test

import (
	"sync"
	"testing"
	"time"

	"github.com/xpanel/xpanel/handlers"
)

// requestLog records what the handler reports, as the metrics would.
type requestLog struct {
	mu   sync.Mutex
	seen []string // "route outcome"
}

func (l *requestLog) ObserveRequest(route, outcome string, elapsed time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if elapsed <= 0 {
		outcome += " without a duration"
	}
	l.seen = append(l.seen, route+" "+outcome)
}

func (l *requestLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 {
		return ""
	}
	return l.seen[len(l.seen)-1]
}

func TestHandler_SetObserver(t *testing.T) {
	a := newAPI(t)
	log := &requestLog{}
	a.handler.SetObserver(log)
	id := a.vlessInbound(20011)

	tests := []struct {
		name   string
		caller *api
		method string
		path   string
		body   any
		want   string
	}{
		{"success", a, "POST", "/panel/api/clients/add",
			map[string]any{"client": map[string]any{"email": "eve"}, "inboundIds": []int64{id}},
			"POST /panel/api/clients/add " + handlers.OutcomeSuccess},
		{"refused", a, "POST", "/panel/api/clients/add",
			map[string]any{"client": map[string]any{"email": "eve"}},
			"POST /panel/api/clients/add " + handlers.OutcomeFailure},
		{"bad body", a, "POST", "/panel/api/clients/update/eve", "{",
			"POST /panel/api/clients/update/{email} " + handlers.OutcomeFailure},
		{"read-only token writing", a.as(readOnlyToken), "POST",
			"/panel/api/clients/del/eve", nil,
			"POST /panel/api/clients/del/{email} " + handlers.OutcomeForbidden},
		{"no token", a.as(""), "GET", "/panel/api/clients/list", nil,
			"unmatched " + handlers.OutcomeUnauthenticated},
		{"no such route", a, "GET", "/panel/api/clients/nothing", nil,
			"unmatched " + handlers.OutcomeNotFound},
		{"read", a.as(readOnlyToken), "GET", "/panel/api/clients/get/eve", nil,
			"GET /panel/api/clients/get/{email} " + handlers.OutcomeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.caller.raw(tt.method, tt.path, tt.body)
			if got := log.last(); got != tt.want {
				t.Errorf("observed %q, want %q", got, tt.want)
			}
		})
	}
}
