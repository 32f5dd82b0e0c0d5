package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
)

// lakeOptions are the object-store options from the global flags.
func (g *globals) lakeOptions() []lake.Option {
	var opts []lake.Option
	if g.s3Endpoint != "" {
		opts = append(opts, lake.WithEndpoint(g.s3Endpoint))
	}
	if g.s3PathStyle {
		opts = append(opts, lake.WithPathStyle())
	}
	if g.awsRegion != "" {
		opts = append(opts, lake.WithRegion(g.awsRegion))
	}
	return opts
}

// openLake opens the Parquet lake.
func (g *globals) openLake(ctx context.Context) (*lake.Bucket, error) {
	b, err := lake.Open(ctx, g.lakeURL, g.lakeOptions()...)
	if err != nil {
		return nil, fmt.Errorf("open the lake %s (--lake): %w", g.lakeURL, err)
	}
	return b, nil
}

// openLakeToRead opens the lake for a command that only reads it: a
// file:// lake directory that does not exist is an error naming --lake,
// not a new empty lake that the command then finds empty.
func (g *globals) openLakeToRead(ctx context.Context) (*lake.Bucket, error) {
	b, err := lake.Open(ctx, g.lakeURL, append(g.lakeOptions(), lake.MustExist())...)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lake directory %s does not exist (check --lake; `wattcast process` or `wattcast demo` writes a lake)",
			strings.TrimPrefix(g.lakeURL, "file://"))
	}
	if err != nil {
		return nil, fmt.Errorf("open the lake %s (--lake): %w", g.lakeURL, err)
	}
	return b, nil
}

// registryURL is --registry, or a "registry" directory next to the lake.
func (g *globals) registryLocation() (string, error) {
	if g.registryURL != "" {
		return g.registryURL, nil
	}
	u, err := url.Parse(g.lakeURL)
	if err == nil && u.Scheme == "" || err != nil && !strings.Contains(g.lakeURL, ":") {
		// A bare directory path (lake.Open takes it as written): its
		// sibling, as a path too, never re-encoded as a URL.
		return filepath.Join(filepath.Dir(filepath.Clean(g.lakeURL)), "registry"), nil
	}
	if err != nil {
		return "", fmt.Errorf("--lake %q: %w", g.lakeURL, err)
	}
	p := u.Path
	if u.Scheme == "file" && u.Host != "" { // file://relative/dir
		p = path.Join(u.Host, u.Path)
		u.Host = ""
	}
	u.Path = path.Join(path.Dir(strings.TrimSuffix(p, "/")), "registry")
	if u.Scheme == "file" && !strings.HasPrefix(p, "/") {
		return "file://" + strings.TrimPrefix(u.Path, "/"), nil
	}
	return u.String(), nil
}

// openRegistry opens the model registry's object store.
func (g *globals) openRegistry(ctx context.Context) (*lake.Bucket, string, error) {
	loc, err := g.registryLocation()
	if err != nil {
		return nil, "", err
	}
	b, err := lake.Open(ctx, loc, g.lakeOptions()...)
	if err != nil {
		return nil, "", fmt.Errorf("open the model registry %s (%s): %w", loc, g.registryFlag(), err)
	}
	return b, loc, nil
}

// openRegistryToRead opens the model registry for a command that only
// reads it: a file:// registry directory that does not exist is an error
// naming --registry, not a new empty registry.
func (g *globals) openRegistryToRead(ctx context.Context) (*lake.Bucket, string, error) {
	loc, err := g.registryLocation()
	if err != nil {
		return nil, "", err
	}
	b, err := lake.Open(ctx, loc, append(g.lakeOptions(), lake.MustExist())...)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("registry directory %s does not exist (check %s; `wattcast train` or `wattcast demo` writes a registry)",
			strings.TrimPrefix(loc, "file://"), g.registryFlag())
	}
	if err != nil {
		return nil, "", fmt.Errorf("open the model registry %s (%s): %w", loc, g.registryFlag(), err)
	}
	return b, loc, nil
}

// registryFlag names the flag that chose the registry: --registry, or
// --lake when the registry is the default one next to the lake.
func (g *globals) registryFlag() string {
	if g.registryURL != "" {
		return "--registry"
	}
	return "--registry, or --lake: the registry defaults to <lake>/../registry"
}

// regionConfig reads a JSON file mapping region ids to their zone, holiday
// country and issue time; "" for none.
func regionConfig(file string) (map[string]features.Region, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--regions: %w", err)
	}
	var m map[string]features.Region
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("--regions %s: want a JSON object {\"REGION\": {\"zone\": \"Europe/Helsinki\", \"country\": \"FI\", \"issue_time\": \"10:00\"}}: %w", file, err)
	}
	return m, nil
}
