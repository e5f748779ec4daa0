package httpd

import (
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
)

// staticHandler serves the files of a "static" service's folder through
// an os.Root, so that no path and no symlink leads out of the folder. It
// refuses what a folder should not show: a name that starts with a dot
// (".git", ".env", ".hidden/x") is absent, and a folder without an
// index.html is absent too, never listed.
type staticHandler struct {
	root *os.Root
}

func newStatic(dir string) (*staticHandler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the static folder: %w", err)
	}
	return &staticHandler{root: root}, nil
}

func (h *staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean("/" + r.URL.Path)
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			http.NotFound(w, r)
			return
		}
	}
	rel := strings.TrimPrefix(name, "/")
	if rel == "" {
		rel = "."
	}
	f, err := h.root.Open(rel)
	if err != nil {
		http.NotFound(w, r) // missing, unreadable, or out of the folder
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			// As http.FileServer does: a folder's URL ends in a slash, so
			// that its page's relative links resolve inside it.
			target := path.Base(name) + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		index, err := h.root.Open(path.Join(rel, "index.html"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer index.Close()
		f = index
		if fi, err = f.Stat(); err != nil {
			http.NotFound(w, r)
			return
		}
	}
	if !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}
