package httpd

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzCookieHeader checks cookieValues on arbitrary Cookie headers
// (one header line per '\n' of raw):
//   - it never panics;
//   - every value it returns appears verbatim in one header line, and holds
//     no ';' (a value never spans two cookies);
//   - it agrees with a plain split-and-trim reading of the header;
//   - a well-formed name=value appended to the header is always found, as
//     the last value, whatever garbage came before it.
func FuzzCookieHeader(f *testing.F) {
	f.Add(`foo={"a":1,"b":[1,2]}; cbtid=abc`, "cbtid", "abcdefghijklmnopqrstuvwx")
	f.Add("xcbtid=1; cbtid=2", "cbtid", "3")
	f.Add(`cbtid="quoted"; cbtid=; cbtid; ;; cbtid = spaced `, "cbtid", "x")
	f.Add("a=1\ncbtid=x\n\tcbtid=y\t", "cbtid", "")
	f.Add("\x00\xff=\"; =;==", "", "v")

	f.Fuzz(func(t *testing.T, raw, name, value string) {
		headers := strings.Split(raw, "\n")
		got := cookieValues(headers, name)
		for _, v := range got {
			if strings.Contains(v, ";") {
				t.Fatalf("value %q holds a ';'", v)
			}
			found := false
			for _, h := range headers {
				if strings.Contains(h, v) {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("value %q is not in the input", v)
			}
		}
		if want := splitCookieValues(headers, name); !reflect.DeepEqual(got, want) {
			t.Fatalf("CookieValues(%q, %q) = %q, the plain reading gives %q", headers, name, got, want)
		}

		if !plantable(name, value) {
			return
		}
		last := len(headers) - 1
		headers[last] += "; " + name + "=" + value
		got = cookieValues(headers, name)
		if len(got) == 0 || got[len(got)-1] != value {
			t.Fatalf("planted %s=%q in %q, got %q", name, value, headers, got)
		}
	})
}

// splitCookieValues is the obvious, allocating reading of the rules that
// cookieValues implements without allocating: split on ';', split each part
// at its first '=', trim spaces and tabs, drop one pair of quotes.
func splitCookieValues(headers []string, name string) []string {
	if name == "" {
		return nil
	}
	var out []string
	for _, h := range headers {
		for _, part := range strings.Split(h, ";") {
			i := strings.Index(part, "=")
			if i < 0 || strings.Trim(part[:i], " \t") != name {
				continue
			}
			v := strings.Trim(part[i+1:], " \t")
			if len(v) >= 2 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
				v = v[1 : len(v)-1]
			}
			out = append(out, v)
		}
	}
	return out
}

// plantable reports whether name=value is a cookie that a browser could send
// and that cookieValues must therefore return unchanged.
func plantable(name, value string) bool {
	if name == "" || strings.ContainsAny(name, "; \t=\n") || strings.ContainsAny(value, ";\n\"") {
		return false
	}
	return strings.Trim(name, " \t") == name && strings.Trim(value, " \t") == value
}
