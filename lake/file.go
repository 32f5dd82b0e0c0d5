package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// tmpPrefix starts the names of temporary files. Athena, Hive and Spark skip
// files whose names start with "." or "_", so a half-written file left by a
// crash is never read as data, and List skips them too.
const tmpPrefix = ".wattcast-tmp-"

// fileBackend stores objects as files below root.
type fileBackend struct {
	root string
	sync bool
}

// newFileBackend opens the store in dir, creating the directory when create
// is set and failing with an error that wraps fs.ErrNotExist when it is not
// and dir does not exist.
func newFileBackend(dir string, sync, create bool) (*fileBackend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lake: resolve lake directory %q: %w", dir, err)
	}
	if !create {
		st, err := os.Stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("lake: directory %s does not exist: %w", abs, fs.ErrNotExist)
		case err != nil:
			return nil, fmt.Errorf("lake: %w", err)
		case !st.IsDir():
			return nil, fmt.Errorf("lake: %s is not a directory", abs)
		}
		return &fileBackend{root: abs, sync: sync}, nil
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("lake: create lake directory %s: %w (is the path writable?)", abs, err)
	}
	return &fileBackend{root: abs, sync: sync}, nil
}

func (f *fileBackend) path(key string) string { return filepath.Join(f.root, filepath.FromSlash(key)) }

// writeTemp writes data to a new temporary file in the directory of dst and
// returns its name. The file is synced when f.sync is set, so that the
// rename or link that publishes it never exposes unwritten blocks.
func (f *fileBackend) writeTemp(ctx context.Context, dst string, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	if werr == nil && f.sync {
		werr = tmp.Sync()
	}
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	// CreateTemp makes 0600 files; lake files are meant to be read by
	// other local tools (DuckDB, pyarrow) run as other users.
	if err := os.Chmod(name, 0o644); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or link in dir durable.
func (f *fileBackend) syncDir(dir string) error {
	if !f.sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func (f *fileBackend) put(ctx context.Context, key string, data []byte) error {
	dst := f.path(key)
	tmp, err := f.writeTemp(ctx, dst, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return f.syncDir(filepath.Dir(dst))
}

func (f *fileBackend) putIfAbsent(ctx context.Context, key string, data []byte) (bool, error) {
	dst := f.path(key)
	tmp, err := f.writeTemp(ctx, dst, data)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	// link(2) fails with EEXIST if dst exists, atomically, and publishes a
	// complete file: O_EXCL on dst itself would expose it while writing.
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, f.syncDir(filepath.Dir(dst))
}

func (f *fileBackend) get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no such object: %w", fs.ErrNotExist)
		}
		return nil, err
	}
	return data, nil
}

func (f *fileBackend) list(ctx context.Context, prefix, after string) ([]string, error) {
	// Walk only the deepest directory the prefix names.
	dir := prefix
	if !strings.HasSuffix(dir, "/") {
		dir = path.Dir(dir)
	}
	dir = strings.TrimSuffix(dir, "/")
	if dir == "." {
		dir = ""
	}
	start := f.root
	if dir != "" {
		start = f.path(dir)
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) && key > after {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}

func (f *fileBackend) del(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(f.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
