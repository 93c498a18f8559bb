package handlers_test

import (
	"bufio"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/handlers"
)

// hostileCase is one request of the hostile corpus.
type hostileCase struct {
	name, method, path string
	body               []byte
	refuse             bool // must be refused; otherwise any sound answer
}

// loadHostile reads testdata/hostile.txt.
func loadHostile(t *testing.T) []hostileCase {
	t.Helper()
	f, err := os.Open("testdata/hostile.txt")
	if err != nil {
		t.Fatalf("open corpus: %v", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	if len(lines)%3 != 0 {
		t.Fatalf("corpus has %d lines, not cases of three", len(lines))
	}
	var cases []hostileCase
	for i := 0; i < len(lines); i += 3 {
		fields := strings.Fields(lines[i+1])
		body, err := strconv.Unquote(lines[i+2])
		if len(fields) != 3 || err != nil {
			t.Fatalf("case %q is malformed: %v", lines[i], err)
		}
		cases = append(cases, hostileCase{name: lines[i], method: fields[1], path: fields[2],
			body: []byte(body), refuse: fields[0] == "refuse"})
	}
	return cases
}

// generatedHostile are the cases too big to keep in a file.
func generatedHostile() []hostileCase {
	huge := strings.Repeat("e", 10<<20)
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	deepObj := strings.Repeat(`{"a":`, 50000) + "1" + strings.Repeat("}", 50000)
	manyKeys := `{"client":{` + strings.Repeat(`"email":"k",`, 100000) +
		`"email":"k1"},"inboundIds":[1]}`
	return []hostileCase{
		{name: "10 MiB email", method: "POST", path: "/panel/api/clients/add", refuse: true,
			body: []byte(`{"client":{"email":"` + huge + `"},"inboundIds":[1]}`)},
		{name: "10 MiB group", method: "POST", path: "/panel/api/clients/groups/create",
			refuse: true, body: []byte(`{"name":"` + huge + `"}`)},
		{name: "10 MiB renamed email", method: "POST", path: "/panel/api/clients/update/alice",
			refuse: true, body: []byte(`{"email":"` + huge + `"}`)},
		{name: "10 MiB email in the path", method: "POST",
			path: "/panel/api/clients/del/" + huge[:1<<20], refuse: true},
		{name: "deeply nested array", method: "POST", path: "/panel/api/clients/bulkCreate",
			refuse: true, body: []byte(deep)},
		{name: "deeply nested settings", method: "POST", path: "/panel/api/inbounds/add",
			refuse: true, body: []byte(`{"port":4399,"protocol":"vless","settings":` + deepObj + `}`)},
		{name: "100k duplicate keys", method: "POST", path: "/panel/api/clients/add",
			body: []byte(manyKeys)},
		{name: "100k emails to delete", method: "POST", path: "/panel/api/clients/bulkDel",
			body: []byte(`{"emails":[` + strings.Repeat(`"x",`, 100000) + `"y"]}`)},
	}
}

// TestHostile_Corpus sends every hostile request to a real server with
// a 16 MiB body cap: the answer is never a 5xx and always the envelope
// (or an empty 404 for a path no route matches); a refusal has a reason
// and changes nothing; the store stays consistent; and the server goes
// on answering.
func TestHostile_Corpus(t *testing.T) {
	a := newAPILimits(t, handlers.Limits{MaxBodyBytes: 16 << 20, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second, MaxConns: 64})
	a.vlessInbound(4301)
	a.addClient(map[string]any{"email": "alice", "group": "G"}, 1)

	for _, c := range append(loadHostile(t), generatedHostile()...) {
		t.Run(c.name, func(t *testing.T) {
			a := a.with(t)
			before := a.snapshot()
			var body any
			if len(c.body) > 0 {
				body = c.body
			}
			status, out := a.raw(c.method, c.path, body)
			success := hostileAnswer(t, status, out)
			switch {
			case c.refuse && success:
				t.Errorf("accepted, want a refusal: %.200s", out)
			case !success && a.snapshot() != before:
				t.Errorf("refusal changed the store: %.200s", out)
			}
			if err := a.store.Check(); err != nil {
				t.Errorf("store check: %v", err)
			}
			a.ok("GET", "/panel/api/clients/list", nil, nil)
		})
	}
}

// hostileAnswer checks an answer to a hostile request and reports
// whether it was a success.
func hostileAnswer(t *testing.T, status int, out []byte) bool {
	t.Helper()
	switch status {
	case http.StatusOK:
		return checkEnvelope(t, status, out).Success
	case http.StatusNotFound:
		if len(out) > 0 {
			t.Errorf("404 with a body: %.200s", out)
		}
		return false
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge,
		http.StatusRequestHeaderFieldsTooLarge:
		var env envelope
		if err := json.Unmarshal(out, &env); err != nil || env.Success || env.Msg == "" {
			t.Errorf("status %d without a failure envelope: %.200s", status, out)
		}
		return false
	}
	t.Errorf("status %d: %.200s", status, out)
	return false
}
