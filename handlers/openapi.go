package handlers

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"
)

// routeDoc is what the OpenAPI document tells about a route beyond the
// route table: a route without one is still described, with any body
// and any obj.
type routeDoc struct {
	summary string
	query   []queryParam

	// body and obj are values of the types the handler decodes the
	// request body into and answers in obj; nil means no body, or an
	// obj that is always null.
	body, obj any

	// example is a request body and answer an obj, as JSON; both are
	// checked against their schemas by the tests.
	example, answer string

	// bare marks an answer sent as is, not inside the envelope.
	bare bool
}

// queryParam is a query parameter of a route.
type queryParam struct {
	name, kind, about string // kind: string, integer or boolean
}

// openAPIVersion is the version of the OpenAPI specification the
// document follows.
const openAPIVersion = "3.1.0"

// openAPI holds the document, built on first request from the route
// table, which does not change once the handler is built.
type openAPI struct {
	once sync.Once
	doc  []byte
	err  error
}

// serveOpenAPI answers the OpenAPI document of every route.
func (h *Handler) serveOpenAPI(ctx *fasthttp.RequestCtx) {
	h.openapi.once.Do(func() { h.openapi.doc, h.openapi.err = h.OpenAPI() })
	if h.openapi.err != nil {
		h.fail(ctx, prefixFailed, h.openapi.err)
		return
	}
	recordOutcome(ctx, fasthttp.StatusOK, true)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(h.openapi.doc)
}

// OpenAPI returns the OpenAPI 3.1 document of the API, generated from
// the route table and the types the handlers decode and answer.
func (h *Handler) OpenAPI() ([]byte, error) {
	docs := routeDocs()
	s := newSchemas()
	paths := map[string]map[string]any{}
	for _, r := range h.table() {
		d, ok := docs[r.method+" "+r.path]
		if !ok {
			d = routeDoc{summary: r.method + " " + r.path}
			if r.method == fasthttp.MethodPost {
				d.body = new(any)
			}
			d.obj = new(any)
		}
		op, err := s.operation(r, d)
		if err != nil {
			return nil, fmt.Errorf("describe %s %s: %w", r.method, r.path, err)
		}
		if paths[r.path] == nil {
			paths[r.path] = map[string]any{}
		}
		paths[r.path][strings.ToLower(r.method)] = op
	}
	if s.err != nil {
		return nil, s.err
	}
	return json.MarshalIndent(document(paths, s.components), "", "  ")
}

// document wraps the paths and schemas in the top of the document.
func document(paths map[string]map[string]any, components map[string]any) map[string]any {
	return map[string]any{
		"openapi": openAPIVersion,
		"info": map[string]any{
			"title":   "xpanel API",
			"version": "1",
			"description": "Clients and inbounds of Xray proxy servers, wire-compatible " +
				"with 3x-ui's API. Every answer but this document is the envelope " +
				"{success, msg, obj}; a refusal is success false with the reason " +
				"in msg, still with status 200.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":   components,
			"responses": sharedResponses(),
			"securitySchemes": map[string]any{
				"token": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security": []any{map[string]any{"token": []string{}}},
	}
}

// operation describes one route.
func (s *schemas) operation(r route, d routeDoc) (map[string]any, error) {
	op := map[string]any{
		"operationId":       operationID(r),
		"summary":           d.summary,
		"tags":              []string{tagOf(r.path)},
		"x-read-only-token": r.readOnly,
	}
	if params := parameters(r.path, d.query); len(params) > 0 {
		op["parameters"] = params
	}
	if d.body != nil {
		media := map[string]any{"schema": s.of(reflect.TypeOf(d.body))}
		if err := addExample(media, d.example); err != nil {
			return nil, fmt.Errorf("request example: %w", err)
		}
		op["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/json": media}}
	}
	ok, err := s.answer(d)
	if err != nil {
		return nil, err
	}
	op["responses"] = map[string]any{
		"200": ok,
		"403": map[string]any{"$ref": "#/components/responses/Forbidden"},
		"404": map[string]any{"$ref": "#/components/responses/NotFound"},
	}
	return op, nil
}

// sharedResponses are the answers every route may give besides its own.
func sharedResponses() map[string]any {
	return map[string]any{
		"Forbidden": map[string]any{
			"description": "The token is read-only and the route writes.",
			"content":     jsonContent(envelopeSchema(map[string]any{"type": "null"})),
		},
		"NotFound": map[string]any{"description": "No valid token, or no such route; " +
			"the body is empty. A request with X-Requested-With: XMLHttpRequest " +
			"and no valid token gets 401 instead."},
	}
}

// answer describes the 200 answer of a route.
func (s *schemas) answer(d routeDoc) (map[string]any, error) {
	obj := map[string]any{"type": "null"}
	if d.obj != nil {
		obj = s.of(reflect.TypeOf(d.obj))
	}
	schema := envelopeSchema(obj)
	if d.bare {
		schema = obj
	}
	media := map[string]any{"schema": schema}
	example := d.answer
	if example != "" && !d.bare {
		example = `{"success": true, "msg": "", "obj": ` + example + `}`
	}
	if err := addExample(media, example); err != nil {
		return nil, fmt.Errorf("answer example: %w", err)
	}
	return map[string]any{"description": "The envelope; obj as below when success is true.",
		"content": map[string]any{"application/json": media}}, nil
}

// envelopeSchema is the schema of the envelope carrying obj.
func envelopeSchema(obj map[string]any) map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"success", "msg", "obj"},
		"properties": map[string]any{
			"success": map[string]any{"type": "boolean"},
			"msg":     map[string]any{"type": "string"},
			"obj":     nullable(obj),
		},
	}
}

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// addExample adds example, which must be JSON, to a media type object.
func addExample(media map[string]any, example string) error {
	if example == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(example), &v); err != nil {
		return err
	}
	media["example"] = v
	return nil
}

// parameters lists the path parameters of path, then the query ones.
func parameters(path string, query []queryParam) []any {
	var out []any
	for _, seg := range strings.Split(path, "/") {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		kind := "string"
		if name == "id" || name == "tgId" {
			kind = "integer"
		}
		out = append(out, map[string]any{"name": name, "in": "path", "required": true,
			"schema": map[string]any{"type": kind}})
	}
	for _, q := range query {
		out = append(out, map[string]any{"name": q.name, "in": "query",
			"description": q.about, "schema": map[string]any{"type": q.kind}})
	}
	return out
}

// operationID names a route after its method and path: for example
// post_clients_update_email.
func operationID(r route) string {
	path := strings.TrimPrefix(r.path, apiPrefix)
	path = strings.NewReplacer("{", "", "}", "", "/", "_", ".", "_").Replace(path)
	return strings.ToLower(r.method) + "_" + path
}

// tagOf groups a route by the first segment after the API prefix.
func tagOf(path string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, apiPrefix), "/")
	return seg
}
