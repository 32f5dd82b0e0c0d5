package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// jsonSchemas holds v1/<name>.json for every schema name. It is read-only:
// an embed.FS cannot be changed at run time.
//
//go:embed v1/*.json
var jsonSchemas embed.FS

// JSONSchema returns the JSON Schema (draft 2020-12) of the topic value
// named name, one of the Schema* constants, e.g. JSONSchema(SchemaPrice).
// The schemas describe the JSON that Encode writes; docs/topics.md says how
// they evolve.
func JSONSchema(name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return nil, fmt.Errorf("schemas: %q is not a schema name; want one of %s", name, strings.Join(JSONSchemaNames(), ", "))
	}
	b, err := jsonSchemas.ReadFile("v" + SchemaVersion + "/" + name + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("schemas: no JSON Schema named %q; want one of %s", name, strings.Join(JSONSchemaNames(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("schemas: read JSON Schema %q: %w", name, err)
	}
	return b, nil
}

// JSONSchemaNames lists the names JSONSchema knows, sorted.
func JSONSchemaNames() []string {
	entries, err := jsonSchemas.ReadDir("v" + SchemaVersion)
	if err != nil {
		// The directory is embedded at build time; it cannot be missing.
		panic("schemas: embedded JSON Schemas missing: " + err.Error())
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, path.Base(n))
		}
	}
	slices.Sort(names)
	return names
}
