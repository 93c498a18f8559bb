package hooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/panel"
)

// example reads a script of the scripts directory, with each old string
// of the pairs replaced by the new one.
func example(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile("../scripts/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(src, replace[i]) {
			t.Fatalf("%s has no %q to replace", name, replace[i])
		}
		src = strings.ReplaceAll(src, replace[i], replace[i+1])
	}
	return src
}

const gib = int64(1) << 30

func TestExample_VIPTopUp(t *testing.T) {
	f := newFixture(t, map[string]string{"vip_topup.lua": example(t, "vip_topup.lua")}, nil)
	for _, email := range []string{"vip", "plain"} {
		group := map[string]string{"vip": "VIP", "plain": ""}[email]
		f.mustAdd(email, func(in *panel.ClientInput) { in.TotalGB, in.Group = new(gib), &group })
		if err := f.svc.UpdateTraffic(email, gib, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Enforce(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the top-up", func() bool { return f.client("vip").TotalGB == 11*gib })
	waitFor(t, "the outbox to drain", f.outboxEmpty)

	if c := f.client("vip"); !c.Enable {
		t.Errorf("vip client still disabled after its top-up: %+v", c)
	}
	if c := f.client("plain"); c.Enable || c.TotalGB != gib {
		t.Errorf("plain client changed: enable %v total %d", c.Enable, c.TotalGB)
	}
	if st := f.status("vip_topup.lua"); st.Errors != 0 {
		t.Errorf("script errors: %+v", st)
	}
}

func TestExample_ExpiryWebhook(t *testing.T) {
	const secret = "test-secret-0123"
	f := newFixture(t, nil, nil)
	f.write("expiry_webhook.lua", example(t, "expiry_webhook.lua",
		"https://billing.example.com/xpanel/expired", "{{URL}}/expired",
		`"change-me"`, `"`+secret+`"`))
	if _, err := f.eng.Reload(); err != nil {
		t.Fatal(err)
	}

	past := f.clock.Add(-time.Minute).UnixMilli()
	f.mustAdd("late", func(in *panel.ClientInput) { in.ExpiryTime = &past })
	f.mustAdd("fine", nil)
	if err := f.svc.Enforce(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the webhook", func() bool { return len(f.recv.posts()) == 1 })
	waitFor(t, "the outbox to drain", f.outboxEmpty)

	p := f.recv.posts()[0]
	var body struct {
		Event   string `json:"event"`
		EventID int64  `json:"eventId"`
		Email   string `json:"email"`
		Expiry  int64  `json:"expiryTime"`
	}
	if err := json.Unmarshal(p.Body, &body); err != nil {
		t.Fatalf("body %s: %v", p.Body, err)
	}
	if body.Event != "client.expired" || body.Email != "late" || body.Expiry != past || body.EventID == 0 {
		t.Errorf("webhook body %+v", body)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(p.Body)
	if got, want := p.Header.Get("X-Signature"), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if len(f.recv.posts()) != 1 {
		t.Errorf("%d webhooks, want one", len(f.recv.posts()))
	}
}

func TestExample_ResellerCap(t *testing.T) {
	f := newFixture(t, map[string]string{"reseller_cap.lua": example(t, "reseller_cap.lua")}, nil)
	reseller := "Reseller"
	cases := []struct {
		name  string
		total int64
		group string
		ok    bool
	}{
		{"small reseller", 50 * gib, reseller, true},
		{"big reseller", 101 * gib, reseller, false},
		{"unlimited reseller", 0, reseller, false},
		{"big other", 500 * gib, "", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			email := string(rune('a' + i))
			err := f.add(email, func(in *panel.ClientInput) { in.TotalGB, in.Group = &c.total, &c.group })
			if c.ok != (err == nil) {
				t.Fatalf("add: %v, want ok %v", err, c.ok)
			}
			if !c.ok && (!panel.IsRefusal(err) || err.Error() != "reseller clients are limited to 100 GB") {
				t.Errorf("refusal %v, want the script's message", err)
			}
			if stored := f.client(email) != nil; stored != c.ok {
				t.Errorf("stored %v, want %v", stored, c.ok)
			}
		})
	}
	t.Run("raising a reseller over the cap", func(t *testing.T) {
		big := 200 * gib
		err := f.svc.UpdateClient("a", &panel.ClientInput{TotalGB: &big})
		if err == nil || f.client("a").TotalGB != 50*gib {
			t.Errorf("update over the cap: %v, total %d", err, f.client("a").TotalGB)
		}
	})
	t.Run("extending a reseller over the cap", func(t *testing.T) {
		res, err := f.svc.BulkAdjust(&panel.AdjustRequest{Emails: []string{"a", "d"}, AddBytes: 60 * gib})
		if err != nil || res.Adjusted != 1 || len(res.Skipped) != 1 || res.Skipped[0].Email != "a" ||
			res.Skipped[0].Reason != "reseller clients are limited to 100 GB" {
			t.Errorf("bulk adjust: %+v, %v; want a skipped with the script's reason", res, err)
		}
		if f.client("a").TotalGB != 50*gib || f.client("d").TotalGB != 560*gib {
			t.Errorf("totals %d and %d after the adjust", f.client("a").TotalGB, f.client("d").TotalGB)
		}
	})
	t.Run("an inbound carrying a reseller over the cap", func(t *testing.T) {
		on := true
		settings := fmt.Sprintf(`{"decryption":"none","clients":[
			{"email":"in-big","id":"0f5c6e1a-3b0e-4c51-9d0c-6f1b2a3c4d5e",
			 "totalGB":%d,"group":"reseller"}]}`, 150*gib)
		_, err := f.svc.AddInbound(&panel.InboundInput{Remark: "carrier", Enable: &on,
			Port: 4434, Protocol: "vless", Settings: json.RawMessage(settings)})
		if !panel.IsRefusal(err) || !strings.Contains(err.Error(), "limited to 100 GB") {
			t.Errorf("add inbound: %v, want the script's refusal", err)
		}
		if f.client("in-big") != nil {
			t.Errorf("the refused client was stored")
		}
	})
	t.Run("importing a reseller over the cap", func(t *testing.T) {
		data := fmt.Sprintf(`[{"client":{"email":"imp-big","totalGB":%d,"group":"reseller"}},
			{"client":{"email":"imp-small","totalGB":%d,"group":"reseller"}}]`, 150*gib, 10*gib)
		res, err := f.svc.Import(data)
		if err != nil || res.Created != 1 || len(res.Skipped) != 1 ||
			res.Skipped[0].Reason != "reseller clients are limited to 100 GB" {
			t.Errorf("import: %+v, %v; want imp-big skipped with the script's reason", res, err)
		}
		if f.client("imp-big") != nil || f.client("imp-small") == nil {
			t.Errorf("after the import: imp-big stored %v, imp-small stored %v",
				f.client("imp-big") != nil, f.client("imp-small") != nil)
		}
	})
}

func TestExample_IdleDisable(t *testing.T) {
	f := newFixture(t, map[string]string{"idle_disable.lua": example(t, "idle_disable.lua")}, nil)
	now := f.clock
	long := now.Add(-40 * 24 * time.Hour)
	created := long.UnixMilli()
	f.mustAdd("used-long-ago", nil)
	f.mustAdd("never-used-old", func(in *panel.ClientInput) { in.CreatedAt = &created })
	f.mustAdd("never-used-new", nil)
	f.mustAdd("used-today", nil)

	f.clock = long
	record(t, f, "used-long-ago")
	f.clock = now
	record(t, f, "used-today")

	f.eng.RunTimers()
	want := map[string]bool{"used-long-ago": false, "never-used-old": false,
		"never-used-new": true, "used-today": true}
	for email, enabled := range want {
		if c := f.client(email); c.Enable != enabled {
			t.Errorf("%s enabled %v, want %v", email, c.Enable, enabled)
		}
	}
	if st := f.status("idle_disable.lua"); st.Errors != 0 || st.Calls != 1 {
		t.Errorf("status %+v", st)
	}
}

// record counts a little traffic for email at the fixture's clock.
func record(t *testing.T, f *fixture, email string) {
	t.Helper()
	err := f.svc.RecordUsage(&panel.Usage{Clients: map[string]panel.Delta{email: {Up: 1, Down: 1}}})
	if err != nil {
		t.Fatal(err)
	}
}
