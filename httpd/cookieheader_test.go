package httpd

import (
	"net/http"
	"slices"
	"testing"
)

func TestCookieValues(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		cookie  string
		want    []string
	}{
		{"no header", nil, "cbtid", nil},
		{"empty header", []string{""}, "cbtid", nil},
		{"only", []string{"cbtid=abc"}, "cbtid", []string{"abc"}},
		{"among others", []string{"a=1; cbtid=abc; b=2"}, "cbtid", []string{"abc"}},
		{"JSON in another cookie (Crossbar #1924)", []string{`foo={"a":1,"b":[1,2]}; cbtid=abc`}, "cbtid", []string{"abc"}},
		{"JSON after the cookie", []string{`cbtid=abc; prefs={"theme":"dark", "size": 3}`}, "cbtid", []string{"abc"}},
		{"name as a suffix of another name", []string{"xcbtid=1; cbtid=2"}, "cbtid", []string{"2"}},
		{"name as a prefix of another name", []string{"cbtidx=1; cbtid_old=3; cbtid=2"}, "cbtid", []string{"2"}},
		{"name inside another value", []string{"a=cbtid=1; cbtid=2"}, "cbtid", []string{"2"}},
		{"only a longer name", []string{"xcbtid=1"}, "cbtid", nil},
		{"repeated, in order", []string{"cbtid=first; a=1; cbtid=second"}, "cbtid", []string{"first", "second"}},
		{"across header lines", []string{"a=1", "cbtid=x", "b=2; cbtid=y"}, "cbtid", []string{"x", "y"}},
		{"quoted", []string{`cbtid="abc"`}, "cbtid", []string{"abc"}},
		{"quoted with spaces inside kept", []string{`cbtid=" abc "`}, "cbtid", []string{" abc "}},
		{"empty quotes", []string{`cbtid=""`}, "cbtid", []string{""}},
		{"lone quote kept", []string{`cbtid="`}, "cbtid", []string{`"`}},
		{"unbalanced quote kept", []string{`cbtid="abc`}, "cbtid", []string{`"abc`}},
		{"spaces and tabs", []string{" \t cbtid \t= abc \t ;"}, "cbtid", []string{"abc"}},
		{"no space after separator", []string{"a=1;cbtid=abc"}, "cbtid", []string{"abc"}},
		{"empty value", []string{"cbtid=; a=1"}, "cbtid", []string{""}},
		{"missing equals", []string{"cbtid; a=1"}, "cbtid", nil},
		{"missing equals then the cookie", []string{"cbtid; cbtid=abc"}, "cbtid", []string{"abc"}},
		{"empty parts", []string{";;; ;cbtid=abc;;"}, "cbtid", []string{"abc"}},
		{"equals in value", []string{"cbtid=a=b"}, "cbtid", []string{"a=b"}},
		{"names are case-sensitive", []string{"CBTID=abc; Cbtid=def"}, "cbtid", nil},
		{"garbage around", []string{"\x00\xff\x7f; =; ==; cbtid=abc; \"\"=x"}, "cbtid", []string{"abc"}},
		{"separator inside another JSON value", []string{`foo={"a":"x;cbtid=evil"}; cbtid=good`}, "cbtid", []string{`evil"}`, "good"}},
		{"empty name matches nothing", []string{"=abc; cbtid=1"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cookieValues(tt.headers, tt.cookie); !slices.Equal(got, tt.want) {
				t.Errorf("cookieValues(%q, %q) = %q, want %q", tt.headers, tt.cookie, got, tt.want)
			}
		})
	}
}

// TestCookieValuesAgreesWithNetHTTP checks well-formed headers against the
// standard library's parser: the tolerance must not change what a correct
// header means.
func TestCookieValuesAgreesWithNetHTTP(t *testing.T) {
	headers := []string{
		"cbtid=abc",
		"a=1; cbtid=abc; b=2",
		"a=1;cbtid=abc",
		`cbtid="abc"`,
		"cbtid=first; cbtid=second",
		"cbtid=",
		"xcbtid=1; cbtid_x=2; cbtid=3",
		"cbtid=a-b_c; other=%7B%22a%22%3A1%7D",
		`foo={"a":1,"b":[1,2]}; cbtid=abc`,
	}
	for _, h := range headers {
		req := &http.Request{Header: http.Header{"Cookie": {h}}}
		var want []string
		for _, c := range req.Cookies() {
			if c.Name == "cbtid" {
				want = append(want, c.Value)
			}
		}
		if got := cookieValues([]string{h}, "cbtid"); !slices.Equal(got, want) {
			t.Errorf("header %q: CookieValues = %q, net/http = %q", h, got, want)
		}
	}
}

func TestCookieValuesAllocations(t *testing.T) {
	absent := []string{`a=1; foo={"a":1}; xcbtid=2`, "b=3"}
	if n := testing.AllocsPerRun(100, func() { _ = cookieValues(absent, "cbtid") }); n != 0 {
		t.Errorf("absent cookie: %v allocations, want 0", n)
	}
	present := []string{`a=1; foo={"a":1}; cbtid=abcdefghijklmnopqrstuvwx`}
	if n := testing.AllocsPerRun(100, func() { _ = cookieValues(present, "cbtid") }); n != 1 {
		t.Errorf("one cookie: %v allocations, want 1 (the result slice)", n)
	}
}

func BenchmarkCookieValues(b *testing.B) {
	headers := []string{`_ga=GA1.2.3.4; prefs={"theme":"dark","langs":["en","de"]}; cbtid=abcdefghijklmnopqrstuvwx; other=1`}
	b.ReportAllocs()
	for b.Loop() {
		if v := cookieValues(headers, "cbtid"); len(v) != 1 {
			b.Fatal(v)
		}
	}
}
