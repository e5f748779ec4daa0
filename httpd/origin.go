package httpd

import (
	"net/http"
	"net/url"
	"strings"
)

// originAllowed is the origin check: no Origin header (not a browser), the
// same host as the request, or a match of an allowed_origins pattern.
func (t *Tracker) originAllowed(r *http.Request) bool {
	values := r.Header.Values("Origin")
	switch len(values) {
	case 0:
		return true
	case 1:
	default:
		return false
	}
	origin := strings.ToLower(values[0])
	u, err := url.Parse(origin)
	host := ""
	if err == nil {
		host = u.Host
		if host != "" && stripDefaultPort(host, u.Scheme == "https" || u.Scheme == "wss") ==
			stripDefaultPort(strings.ToLower(r.Host), r.TLS != nil) {
			return true
		}
	}
	for _, p := range t.origins {
		if globMatch(p, origin) {
			return true
		}
		// A pattern without a scheme names hosts, e.g. "*.example.com".
		if host != "" && !strings.Contains(p, "://") && globMatch(p, host) {
			return true
		}
	}
	return false
}

// stripDefaultPort drops ":443" (tls) or ":80" from a host so that
// "example.com" and "example.com:443" compare equal under TLS.
func stripDefaultPort(host string, tls bool) string {
	if tls {
		return strings.TrimSuffix(host, ":443")
	}
	return strings.TrimSuffix(host, ":80")
}

// globMatch reports whether s matches pattern, where "*" matches any run of
// characters, as in Crossbar's allowed_origins. Greedy matching with one
// backtrack point keeps it linear in practice.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
