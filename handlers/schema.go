package handlers

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"unicode"
)

// schemas builds JSON Schemas (the 2020-12 dialect OpenAPI 3.1 uses) from
// the Go types the handlers decode and encode, so that the document says
// what the code does. Named struct types become components, referred to
// by their capitalised type name.
type schemas struct {
	components map[string]any
	owners     map[string]reflect.Type // which type took each component name
	err        error                   // the first name clash
}

func newSchemas() *schemas {
	return &schemas{components: map[string]any{}, owners: map[string]reflect.Type{}}
}

// rawJSON is the type of a field that holds any JSON value as sent.
var rawJSON = reflect.TypeFor[json.RawMessage]()

// of returns the schema of values of type t as the JSON encoder writes
// them and the decoder reads them: nil pointers, slices and maps are
// null.
func (s *schemas) of(t reflect.Type) map[string]any {
	switch {
	case t == rawJSON:
		return map[string]any{}
	case t.Kind() == reflect.Pointer:
		return nullable(s.of(t.Elem()))
	case t.Kind() == reflect.Struct && t.Name() != "":
		return s.ref(t)
	}
	switch t.Kind() {
	case reflect.Struct:
		return s.object(t)
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": []string{"array", "null"}, "items": s.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"},
			"additionalProperties": s.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{} // an interface: any value
}

// ref returns a reference to the component of a named struct type,
// building the component on first use.
func (s *schemas) ref(t reflect.Type) map[string]any {
	name := componentName(t)
	ref := map[string]any{"$ref": "#/components/schemas/" + name}
	if owner, ok := s.owners[name]; ok {
		if owner != t && s.err == nil {
			s.err = fmt.Errorf("schema name %s names both %v and %v", name, owner, t)
		}
		return ref
	}
	s.owners[name] = t
	s.components[name] = s.object(t)
	return ref
}

// componentName is a type's name with its first letter capitalised and
// without the JSON suffix some wire types carry.
func componentName(t reflect.Type) string {
	r := []rune(strings.TrimSuffix(t.Name(), "JSON"))
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// object returns the schema of a struct: its JSON fields, with those of
// embedded structs lifted up unless an outer field has the same name.
func (s *schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	s.fields(t, props)
	return map[string]any{"type": "object", "properties": props}
}

// fields adds the JSON fields of struct t to props, skipping names
// already there, which belong to a shallower field.
func (s *schemas) fields(t reflect.Type, props map[string]any) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		props[name] = s.of(ft)
	}
	for _, et := range embedded {
		inner := map[string]any{}
		s.fields(et, inner)
		for name, schema := range inner {
			if _, taken := props[name]; !taken {
				props[name] = schema
			}
		}
	}
}

// nullable returns schema widened to admit null.
func nullable(schema map[string]any) map[string]any {
	switch tp := schema["type"].(type) {
	case string:
		out := maps.Clone(schema)
		out["type"] = []string{tp, "null"}
		return out
	case []string:
		return schema // already admits null
	}
	if _, ok := schema["anyOf"]; ok || len(schema) == 0 {
		return schema // a nullable reference already, or any value
	}
	return map[string]any{"anyOf": []any{schema, map[string]any{"type": "null"}}}
}
