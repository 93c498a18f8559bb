package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestPlan_Mix(t *testing.T) {
	const n = 10000
	items, usages := plan(n, 1, 2)
	if len(items) != n {
		t.Fatalf("planned %d clients, want %d", len(items), n)
	}

	seen := map[string]bool{}
	var quota, expired, disabled, both, grouped int
	now := time.Now().UnixMilli()
	for _, it := range items {
		c := it.Client
		if seen[c.Email] {
			t.Fatalf("email %s planned twice", c.Email)
		}
		seen[c.Email] = true
		count(&quota, c.TotalGB > 0)
		count(&expired, c.ExpiryTime > 0 && c.ExpiryTime < now)
		count(&disabled, !c.Enable)
		count(&both, len(it.InboundIDs) == 2)
		count(&grouped, c.Group != "")
	}
	// Each share is checked loosely: the mix must hold every status the
	// paged views filter on, not exact percentages.
	for name, got := range map[string]int{"quota": quota, "expired": expired,
		"disabled": disabled, "on both inbounds": both, "grouped": grouped,
		"with usage": len(usages)} {
		if got < n/100 || got > n*9/10 {
			t.Errorf("%s: %d of %d clients", name, got, n)
		}
	}
}

func count(n *int, cond bool) {
	if cond {
		*n++
	}
}

func TestSearchTerms_MatchSeededEmails(t *testing.T) {
	items, _ := plan(1000, 1, 2)
	emails := make([]string, len(items))
	for i, it := range items {
		emails[i] = it.Client.Email
	}
	for _, term := range searchTerms(emails) {
		if !containsAny(emails, term) {
			t.Errorf("term %q matches no seeded email", term)
		}
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestPercentile(t *testing.T) {
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = time.Duration(i + 1)
	}
	tests := []struct {
		p    int
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}}
	for _, tt := range tests {
		if got := percentile(sorted, tt.p); got != tt.want {
			t.Errorf("p%d = %d, want %d", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %d, want 0", got)
	}
}

func TestProcStatus_Self(t *testing.T) {
	status := procStatus(0)
	if len(status) != 0 {
		t.Errorf("pid 0 read %d fields, want none", len(status))
	}
	if rss := procStatus(os.Getpid())["VmRSS"]; rss <= 0 {
		t.Errorf("own VmRSS = %d, want positive", rss)
	}
}
