package lake

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Open takes a bare directory path as a file:// store, and with MustExist
// refuses a file store whose directory is missing instead of creating it.
func TestOpenBarePathsAndMustExist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	existing := filepath.Join(base, "lake")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string
		opts     []Option
		wantURL  string // the store's URL; "" when Open must fail
		wantErr  string
		notExist bool   // the error wraps fs.ErrNotExist
		created  string // a directory Open must (or, when wantErr is set, must not) create
	}{
		{name: "bare absolute path", url: existing, wantURL: "file://" + filepath.ToSlash(existing)},
		{name: "bare path created", url: filepath.Join(base, "new"), wantURL: "file://" + filepath.ToSlash(filepath.Join(base, "new")),
			created: filepath.Join(base, "new")},
		{name: "bare path with a percent sign", url: filepath.Join(base, "50%off"), wantURL: "file://" + filepath.ToSlash(filepath.Join(base, "50%off"))},
		{name: "must exist, exists", url: "file://" + existing, opts: []Option{MustExist()}, wantURL: "file://" + filepath.ToSlash(existing)},
		{name: "must exist, missing", url: "file://" + filepath.Join(base, "typo"), opts: []Option{MustExist()},
			wantErr: "directory " + filepath.Join(base, "typo") + " does not exist", notExist: true, created: filepath.Join(base, "typo")},
		{name: "must exist, bare path missing", url: filepath.Join(base, "typo2"), opts: []Option{MustExist()},
			wantErr: "does not exist", notExist: true, created: filepath.Join(base, "typo2")},
		{name: "must exist, a file", url: "file://" + notDir, opts: []Option{MustExist()}, wantErr: "is not a directory"},
		{name: "unknown scheme names both forms", url: "gs://bucket/lake", wantErr: "want file://DIR, a directory path, or s3://BUCKET/PREFIX"},
		// S3 is not contacted by Open, so MustExist cannot check it.
		{name: "must exist, s3", url: "s3://bucket/lake", opts: []Option{MustExist(), WithRegion("us-east-1")}, wantURL: "s3://bucket/lake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Open(ctx, tt.url, tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) error %v, want one containing %q", tt.url, err, tt.wantErr)
				}
				if tt.notExist && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Open(%q) error %v does not wrap fs.ErrNotExist", tt.url, err)
				}
				if tt.created != "" {
					if _, err := os.Stat(tt.created); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("Open(%q) failed but created %s (stat: %v)", tt.url, tt.created, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			if got := b.URL(""); got != tt.wantURL {
				t.Errorf("Open(%q).URL() = %q, want %q", tt.url, got, tt.wantURL)
			}
			if tt.created != "" {
				if st, err := os.Stat(tt.created); err != nil || !st.IsDir() {
					t.Errorf("Open(%q) did not create %s: %v", tt.url, tt.created, err)
				}
			}
		})
	}
}

// A bare relative path is relative to the working directory, like
// file://relative/dir.
func TestOpenBareRelativePath(t *testing.T) {
	// Not parallel: it changes the working directory.
	t.Chdir(t.TempDir())
	ctx := context.Background()
	for _, u := range []string{"rel/lake", "./rel/lake", "file://rel/lake"} {
		b, err := Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		wd, _ := os.Getwd()
		if want := "file://" + filepath.ToSlash(filepath.Join(wd, "rel", "lake")); b.URL("") != want {
			t.Errorf("Open(%q).URL() = %q, want %q", u, b.URL(""), want)
		}
	}
}
