package handlers

import "testing"

// TestRouteDocs_MatchTable fails on a description of a route the table
// does not have, so that renaming a route cannot leave its old
// description behind.
func TestRouteDocs_MatchTable(t *testing.T) {
	routes := map[string]bool{}
	for _, r := range (&Handler{}).table() {
		routes[r.method+" "+r.path] = true
	}
	for key := range routeDocs() {
		if !routes[key] {
			t.Errorf("routeDocs describes %q, which the route table lacks", key)
		}
	}
}
