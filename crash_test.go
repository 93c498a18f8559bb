package main

// The crash proof: the real binary under a mixed write load from
// several goroutines, killed with SIGKILL at a random moment, round
// after round over the same data directory. After each kill the store
// is opened offline, every index is checked against the records, and
// the records must hold exactly what was acknowledged.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

var (
	crashRounds = flag.Int("crash.rounds", 20, "kill -9 rounds of TestCrash_Rounds")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrash_Rounds; 0 picks one")
)

// clientState is what the store holds for one email, as far as the
// crash test writes it.
type clientState struct {
	Present  bool
	Total    int64
	Inbounds string // the sorted inbound ids, printed
	Enable   bool
	Up, Down int64
}

// crashOp is one write and the state of each email it touches once the
// server has applied it.
type crashOp struct {
	name   string
	path   string
	body   any
	after  map[string]clientState
	refuse bool                     // the server must refuse it
	check  func(env envelope) error // more to confirm in a success
}

// maxLive is about how many clients a writer keeps: beyond it half its
// writes are deletes, so that the rounds stay fast.
const maxLive = 40

// crashWriter sends writes for emails of its own, one at a time, so at
// most one of its writes is in doubt when the server dies.
type crashWriter struct {
	id      int
	rng     *rand.Rand
	seq     int
	in      [2]int64 // inbounds A and B
	state   map[string]clientState
	live    []string
	refused map[string]bool // emails whose add was refused: never stored
	doubt   *crashOp
	errs    []string
}

func newCrashWriter(id int, seed uint64, in [2]int64) *crashWriter {
	return &crashWriter{id: id, rng: rand.New(rand.NewPCG(seed, uint64(id))), in: in,
		state: map[string]clientState{}, refused: map[string]bool{}}
}

// next picks the next write, weighted towards the common ones.
func (w *crashWriter) next() crashOp {
	w.seq++
	if len(w.live) < 3 {
		return w.add()
	}
	email := w.live[w.rng.IntN(len(w.live))]
	if len(w.live) > maxLive && w.rng.IntN(2) == 0 {
		return w.remove(email)
	}
	switch r := w.rng.IntN(100); {
	case r < 15:
		return w.add()
	case r < 25:
		return w.bulkCreate(2 + w.rng.IntN(8))
	case r < 37:
		return w.update(email)
	case r < 47:
		return w.remove(email)
	case r < 59:
		return w.attachOrDetach(email)
	case r < 77:
		return w.traffic(email)
	case r < 87:
		return w.setEnabled()
	case r < 93:
		return w.duplicate(email)
	default:
		return w.nowhere()
	}
}

// fresh names a new email of this writer.
func (w *crashWriter) fresh(i int) string {
	return fmt.Sprintf("c%d-%d-%d@crash.test", w.id, w.seq, i)
}

func (w *crashWriter) newState(total int64) clientState {
	return clientState{Present: true, Total: total, Enable: true,
		Inbounds: fmt.Sprint([]int64{w.in[0]})}
}

func (w *crashWriter) value() int64 {
	return 1<<40 + int64(w.rng.IntN(1<<20))
}

func (w *crashWriter) add() crashOp {
	email, total := w.fresh(0), w.value()
	return crashOp{name: "add", path: "/panel/api/clients/add",
		body:  addItem(email, total, w.in[0]),
		after: map[string]clientState{email: w.newState(total)}}
}

func (w *crashWriter) bulkCreate(n int) crashOp {
	o := crashOp{name: "bulkCreate", path: "/panel/api/clients/bulkCreate",
		after: map[string]clientState{}}
	items := make([]map[string]any, n)
	for i := range items {
		email, total := w.fresh(i), w.value()
		items[i] = addItem(email, total, w.in[0])
		o.after[email] = w.newState(total)
	}
	o.body = items
	o.check = func(env envelope) error {
		var res createResult
		if err := json.Unmarshal(env.Obj, &res); err != nil || res.Created != n ||
			len(res.Skipped) > 0 {
			return fmt.Errorf("created %d of %d (%v): %s", res.Created, n, err, env.Obj)
		}
		return nil
	}
	return o
}

func (w *crashWriter) update(email string) crashOp {
	s := w.state[email]
	s.Total = w.value()
	return crashOp{name: "update", path: "/panel/api/clients/update/" + url.PathEscape(email),
		body: map[string]any{"totalGB": s.Total}, after: map[string]clientState{email: s}}
}

func (w *crashWriter) remove(email string) crashOp {
	return crashOp{name: "del", path: "/panel/api/clients/del/" + url.PathEscape(email),
		after: map[string]clientState{email: {}}}
}

// attachOrDetach attaches email to inbound B, or detaches it from B.
func (w *crashWriter) attachOrDetach(email string) crashOp {
	s := w.state[email]
	both := fmt.Sprint([]int64{w.in[0], w.in[1]})
	body := map[string]any{"inboundIds": []int64{w.in[1]}}
	if s.Inbounds == both {
		s.Inbounds = fmt.Sprint([]int64{w.in[0]})
		return crashOp{name: "detach", path: "/panel/api/clients/" + url.PathEscape(email) +
			"/detach", body: body, after: map[string]clientState{email: s}}
	}
	s.Inbounds = both
	return crashOp{name: "attach", path: "/panel/api/clients/" + url.PathEscape(email) + "/attach",
		body: body, after: map[string]clientState{email: s}}
}

// traffic raises the counters of email, as a poller elsewhere would.
func (w *crashWriter) traffic(email string) crashOp {
	s := w.state[email]
	s.Up += 1 + int64(w.rng.IntN(1000))
	s.Down += 1 + int64(w.rng.IntN(1000))
	return crashOp{name: "updateTraffic",
		path:  "/panel/api/clients/updateTraffic/" + url.PathEscape(email),
		body:  map[string]any{"upload": s.Up, "download": s.Down},
		after: map[string]clientState{email: s}}
}

// setEnabled enables or disables a few live emails in one bulk call.
func (w *crashWriter) setEnabled() crashOp {
	enable := w.rng.IntN(2) == 0
	o := crashOp{name: "bulkDisable", path: "/panel/api/clients/bulkDisable",
		after: map[string]clientState{}}
	if enable {
		o.name, o.path = "bulkEnable", "/panel/api/clients/bulkEnable"
	}
	for range 1 + w.rng.IntN(3) {
		email := w.live[w.rng.IntN(len(w.live))]
		s := w.state[email]
		s.Enable = enable
		o.after[email] = s
	}
	emails := slices.Collect(mapKeys(o.after))
	o.body = map[string]any{"emails": emails}
	o.check = func(env envelope) error {
		var res struct {
			Changed int               `json:"changed"`
			Skipped []json.RawMessage `json:"skipped"`
		}
		if err := json.Unmarshal(env.Obj, &res); err != nil || res.Changed != len(emails) ||
			len(res.Skipped) > 0 {
			return fmt.Errorf("changed %d of %d (%v): %s", res.Changed, len(emails), err, env.Obj)
		}
		return nil
	}
	return o
}

// duplicate adds email again in other letter case: refused.
func (w *crashWriter) duplicate(email string) crashOp {
	return crashOp{name: "add duplicate", path: "/panel/api/clients/add", refuse: true,
		body:  addItem(upper(email), w.value(), w.in[0]),
		after: map[string]clientState{email: w.state[email]}}
}

// nowhere adds a new email to an inbound that does not exist: refused.
func (w *crashWriter) nowhere() crashOp {
	email := w.fresh(0)
	w.refused[email] = true
	return crashOp{name: "add to a missing inbound", path: "/panel/api/clients/add",
		refuse: true, body: addItem(email, w.value(), 1<<40),
		after: map[string]clientState{email: {}}}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !yield(k) {
				return
			}
		}
	}
}

// run sends writes until halt is set or a request gets no answer.
func (w *crashWriter) run(api *caller, halt *atomic.Bool, acks *atomic.Int64) {
	for !halt.Load() {
		o := w.next()
		env, err := api.do("POST", o.path, o.body)
		if err != nil {
			w.doubt = &o
			return
		}
		if err := o.confirm(env); err != nil {
			w.errs = append(w.errs, fmt.Sprintf("%s %s: %v", o.name, o.path, err))
			return
		}
		for email, s := range o.after {
			w.set(email, s)
		}
		acks.Add(1)
	}
}

// confirm checks that env answers o as it must be answered.
func (o crashOp) confirm(env envelope) error {
	switch {
	case o.refuse && env.Success:
		return fmt.Errorf("acknowledged, want a refusal")
	case o.refuse && env.Msg == "":
		return fmt.Errorf("refused without a reason")
	case o.refuse:
		return nil
	case !env.Success:
		return fmt.Errorf("refused: %s", env.Msg)
	case o.check != nil:
		return o.check(env)
	}
	return nil
}

// set makes the ledger hold s for email.
func (w *crashWriter) set(email string, s clientState) {
	_, was := w.state[email]
	switch {
	case s.Present && !was:
		w.live = append(w.live, email)
	case !s.Present && was:
		i := slices.Index(w.live, email)
		w.live = slices.Delete(w.live, i, i+1)
	}
	if s.Present {
		w.state[email] = s
	} else {
		delete(w.state, email)
	}
}

// settle decides the write in doubt from what the store holds: each of
// its emails must be as before it or as after it.
func (w *crashWriter) settle(got map[string]clientState) {
	o := w.doubt
	w.doubt = nil
	if o == nil {
		return
	}
	for email, after := range o.after {
		before, now := w.state[email], got[email]
		if now != before && now != after {
			w.errs = append(w.errs, fmt.Sprintf("%s in doubt: %s is %+v, neither before %+v "+
				"nor after %+v", o.name, email, now, before, after))
		}
		w.set(email, now)
	}
}

// storedState reads every client of a store.
func storedState(store *kv.Store) map[string]clientState {
	got := map[string]clientState{}
	store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			s := clientState{Present: true, Total: c.TotalGB, Enable: c.Enable,
				Inbounds: fmt.Sprint(c.InboundIDs())}
			if t != nil {
				s.Up, s.Down = t.Up, t.Down
			}
			got[c.Email] = s
			return true
		})
		return nil
	})
	return got
}

// servedState reads every client through GET /clients/list.
func servedState(t *testing.T, api *caller) map[string]clientState {
	t.Helper()
	var rows []struct {
		Email      string  `json:"email"`
		TotalGB    int64   `json:"totalGB"`
		Enable     bool    `json:"enable"`
		InboundIDs []int64 `json:"inboundIds"`
		Traffic    *struct {
			Up   int64 `json:"up"`
			Down int64 `json:"down"`
		} `json:"traffic"`
	}
	api.ok(t, "GET", "/panel/api/clients/list", nil, &rows)
	got := make(map[string]clientState, len(rows))
	for _, r := range rows {
		s := clientState{Present: true, Total: r.TotalGB, Enable: r.Enable,
			Inbounds: fmt.Sprint(r.InboundIDs)}
		if r.Traffic != nil {
			s.Up, s.Down = r.Traffic.Up, r.Traffic.Down
		}
		got[r.Email] = s
	}
	return got
}

// crashFleet is the writers of the test, kept across rounds, and the
// highest counters ever seen of each email.
type crashFleet struct {
	writers []*crashWriter
	highest map[string][2]int64
}

// compare requires got to hold exactly the acknowledged state, nothing
// refused, and no counter below one seen before.
func (f *crashFleet) compare(t *testing.T, where string, got map[string]clientState) {
	t.Helper()
	var errs []string
	want := 0
	for _, w := range f.writers {
		errs = append(errs, w.errs...)
		w.errs = nil
		want += len(w.state)
		for email, s := range w.state {
			if got[email] != s {
				errs = append(errs, fmt.Sprintf("%s: %+v, acknowledged %+v", email, got[email], s))
			}
		}
		for email := range w.refused {
			if got[email].Present {
				errs = append(errs, fmt.Sprintf("%s: stored after its add was refused", email))
			}
		}
	}
	if len(got) != want {
		errs = append(errs, fmt.Sprintf("%d clients stored, %d acknowledged", len(got), want))
	}
	for email, s := range got {
		h := f.highest[email]
		if s.Up < h[0] || s.Down < h[1] {
			errs = append(errs, fmt.Sprintf("%s: counters %d/%d went below %d/%d",
				email, s.Up, s.Down, h[0], h[1]))
		}
		f.highest[email] = [2]int64{max(h[0], s.Up), max(h[1], s.Down)}
	}
	for i, e := range errs {
		if i == 10 {
			t.Errorf("%s: %d more", where, len(errs)-i)
			break
		}
		t.Errorf("%s: %s", where, e)
	}
}

// load runs every writer until the server dies, and kills it at a
// random moment once a few writes were acknowledged.
func (f *crashFleet) load(t *testing.T, p *proc, rng *rand.Rand) int64 {
	t.Helper()
	api := p.api(testToken)
	var halt atomic.Bool
	var acks atomic.Int64
	var wg sync.WaitGroup
	for _, w := range f.writers {
		wg.Go(func() { w.run(api, &halt, &acks) })
	}
	waitFor(t, "5 acknowledged writes", func() bool { return acks.Load() >= 5 }, 0)
	time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
	p.kill()
	halt.Store(true)
	wg.Wait()
	return acks.Load()
}

// TestCrash_Rounds kills the server with SIGKILL in the middle of a mixed
// write load (adds, bulk creates, updates, deletes, attaches and
// detaches, traffic updates, bulk enables and disables, and adds that
// must be refused), -crash.rounds times over the same data directory.
// After each kill the store, opened offline, passes Check (every index
// agrees with the records) and holds exactly the acknowledged writes
// (a write in doubt shows all before or all after it, per email),
// nothing refused, and no traffic counter below one seen before; the
// restarted server serves exactly that.
func TestCrash_Rounds(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -crash.seed)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dataDir := t.TempDir()
	conf := settings{dataDir: dataDir, token: testToken}
	f := &crashFleet{highest: map[string][2]int64{}}

	for round := range *crashRounds {
		p := start(t, conf)
		api := p.api(testToken)
		if round == 0 {
			in := [2]int64{api.vlessInbound(t, freePort(t)), api.vlessInbound(t, freePort(t))}
			for id := range 4 {
				f.writers = append(f.writers, newCrashWriter(id, seed, in))
			}
		} else {
			f.compare(t, fmt.Sprintf("served after kill %d", round), servedState(t, api))
		}
		acks := f.load(t, p, rng)
		store := openStore(t, dataDir) // checks every index
		got := storedState(store)
		for _, w := range f.writers {
			w.settle(got)
		}
		f.compare(t, fmt.Sprintf("stored after kill %d (%d acks)", round+1, acks), got)
		if err := store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
		if t.Failed() {
			return
		}
	}
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, _ := strings.Cut(freeAddr(t), ":")
	n, _ := strconv.Atoi(port)
	return n
}
