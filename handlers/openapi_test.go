package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	json "github.com/goccy/go-json"
)

// loadOpenAPI fetches the document with the read-only token and loads it
// with kin-openapi, which also validates it, examples included.
func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	status, body := a.as(readOnlyToken).raw("GET", "/panel/api/openapi.json", nil)
	if status != http.StatusOK {
		t.Fatalf("openapi.json: status %d: %s", status, body)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("load document: %v", err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("document does not validate: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

func TestHandler_OpenAPI(t *testing.T) {
	a := newAPI(t)
	doc := loadOpenAPI(t, a)

	t.Run("every route described", func(t *testing.T) {
		routes := a.handler.Routes()
		if len(routes) < 40 {
			t.Fatalf("only %d routes registered", len(routes))
		}
		described := 0
		for _, item := range doc.Paths.Map() {
			described += len(item.Operations())
		}
		if described != len(routes) {
			t.Errorf("%d operations described, %d routes registered", described, len(routes))
		}
		for _, r := range routes {
			method, path, _ := strings.Cut(r, " ")
			item := doc.Paths.Value(path)
			if item == nil || item.GetOperation(method) == nil {
				t.Errorf("route %s missing from the document", r)
				continue
			}
			op := item.GetOperation(method)
			if op.Summary == "" || op.Responses.Status(http.StatusOK) == nil {
				t.Errorf("route %s has no summary or no 200 answer", r)
			}
		}
	})

	t.Run("examples validate", func(t *testing.T) {
		examples := 0
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				name := method + " " + path
				if op.RequestBody != nil {
					examples += checkExample(t, name+" body", op.RequestBody.Value.Content)
				}
				ok := op.Responses.Status(http.StatusOK).Value
				examples += checkExample(t, name+" answer", ok.Content)
			}
		}
		if examples < 20 {
			t.Errorf("only %d examples checked", examples)
		}
	})

	t.Run("schemas reject a wrong example", func(t *testing.T) {
		schema := doc.Paths.Value("/panel/api/clients/add").Post.RequestBody.Value.
			Content.Get("application/json").Schema.Value
		bad := map[string]any{"client": map[string]any{"email": 7}, "inboundIds": []any{1.0}}
		if err := schema.VisitJSON(bad, openapi3.EnableJSONSchema2020()); err == nil {
			t.Error("a numeric email validates against the add body")
		}
	})

	t.Run("behind the token", func(t *testing.T) {
		if status, _ := a.as("").raw("GET", "/panel/api/openapi.json", nil); status != 404 {
			t.Errorf("without a token: status %d, want 404", status)
		}
	})
}

// checkExample validates the JSON example of a content map against its
// schema and returns how many it checked.
func checkExample(t *testing.T, name string, content openapi3.Content) int {
	t.Helper()
	media := content.Get("application/json")
	if media == nil || media.Example == nil {
		return 0
	}
	err := media.Schema.Value.VisitJSON(media.Example, openapi3.EnableJSONSchema2020())
	if err != nil {
		t.Errorf("%s: example does not validate: %v", name, err)
	}
	return 1
}

// TestHandler_OpenAPIAnswers calls every read route of a server holding
// a client and checks each real answer against the documented schema, so
// that the document follows the types the handlers answer with. The
// server runs a hook engine, so that the scripts routes answer too.
func TestHandler_OpenAPIAnswers(t *testing.T) {
	a, _ := newScriptedAPI(t, nil)
	id := a.vlessInbound(20001)
	a.addClient(map[string]any{"email": "alice", "tgId": 42, "group": "g"}, id)
	a.setUsage("alice", 100, 200, true)
	doc := loadOpenAPI(t, a)

	params := strings.NewReplacer("{email}", "alice", "{tgId}", "42",
		"{id}", "1", "{name}", "g")
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			readOnly, _ := op.Extensions["x-read-only-token"].(bool)
			if !readOnly || strings.HasSuffix(path, "openapi.json") {
				continue
			}
			t.Run(method+" "+path, func(t *testing.T) {
				status, body := a.as(readOnlyToken).raw(method, params.Replace(path), nil)
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, body)
				}
				var answer any
				if err := json.Unmarshal(body, &answer); err != nil {
					t.Fatalf("answer is not JSON: %v", err)
				}
				if env, _ := answer.(map[string]any); env["success"] != true {
					t.Fatalf("call failed: %s", body)
				}
				schema := op.Responses.Status(http.StatusOK).Value.
					Content.Get("application/json").Schema.Value
				err := schema.VisitJSON(answer, openapi3.EnableJSONSchema2020(),
					openapi3.VisitAsResponse())
				if err != nil {
					t.Errorf("answer does not match the schema: %v\n%s", err, body)
				}
			})
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d read routes checked", checked)
	}
}
