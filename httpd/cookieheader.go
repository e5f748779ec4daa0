package httpd

import "strings"

// cookieValues returns every value of the cookie called name in the given
// Cookie header values (several header lines are allowed, as HTTP/2 sends
// them), in the order they appear.
//
// It is written for hostile and sloppy headers rather than well-formed ones.
// Crossbar lost its tracking cookie whenever an application kept JSON in a
// cookie of its own (Crossbar #1924), because its parser gave up on the rest
// of the header; here each ';'-separated part stands on its own. Spaces and
// tabs around the name and the value are trimmed, one pair of surrounding
// double quotes is removed from the value, and parts without '=' are skipped.
// Names are compared whole and case-sensitively, so "xcbtid" never matches
// "cbtid" (Crossbar's fallback matched substrings). An empty value is
// returned as "".
//
// The values are not validated: the caller takes the first one that is a
// well-formed ID known to its store, which makes forged, stale and repeated
// cookies harmless. Unlike http.Request.Cookies, which builds an http.Cookie
// for every cookie in the header, it allocates nothing unless the cookie is
// there; the returned strings share memory with headers.
func cookieValues(headers []string, name string) []string {
	if name == "" {
		return nil
	}
	var values []string
	for _, h := range headers {
		for h != "" {
			var part string
			part, h, _ = strings.Cut(h, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok || cookieTrim(k) != name {
				continue
			}
			v = cookieTrim(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			values = append(values, v)
		}
	}
	return values
}

// cookieTrim removes the optional whitespace (RFC 6265: SP and HTAB) around a
// cookie name or value.
func cookieTrim(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
