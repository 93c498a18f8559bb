package hooks_test

import (
	"testing"
)

// FuzzEngine_Load loads arbitrary source as a script: it must load or be
// reported with its file, never take the engine down, and leave the
// other script running.
func FuzzEngine_Load(f *testing.F) {
	for _, seed := range []string{
		"", "xpanel.on('client.created', function(e) end)", "if then end",
		"error('x')", "while true do end", "xpanel.every(0, nil)",
		"local t = {} for i = 1, 1e9 do t[i] = i end", "return (",
		"xpanel.before('client.create', function(c) return {totalGB = 'x'} end)",
		"string.rep('x', 1e9)", "setmetatable({}, {__index = function(t, k) return t[k] end}).x",
	} {
		f.Add(seed)
	}
	fx := newFixture(f, map[string]string{"a_ok.lua": `xpanel.on("client.created", function(e) end)`}, nil)
	f.Fuzz(func(t *testing.T, src string) {
		writeFile(t, fx.dir, "b_fuzz.lua", src)
		list, err := fx.eng.Reload()
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		if len(list) != 2 || !list[0].Loaded {
			t.Fatalf("listing %+v, want a_ok.lua loaded", list)
		}
		if st := list[1]; !st.Loaded && (st.LoadError == nil || st.LoadError.File != "b_fuzz.lua") {
			t.Fatalf("fuzzed script neither loaded nor reported: %+v", st)
		}
	})
}
