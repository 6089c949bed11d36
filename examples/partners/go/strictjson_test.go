package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStrictJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{`{"a":1}`, true},
		{" \t\r\n{\"a\":1} \n", true},
		{`{"a":1,"\u0061":2}`, false},  // duplicate after unescaping
		{`{"a":{"b":1,"b":2}}`, false}, // duplicate at depth
		{`{"a":{"b":1},"b":2}`, true},  // same name, different objects
		{"\xEF\xBB\xBF{}", false},      // BOM
		{`"\ud83d\ude00"`, true},       // a surrogate pair
		{`"\ud83d"`, false},            // lone high
		{`"\ude00"`, false},            // lone low
		{`"\ud83d\u0041"`, false},      // high then not a low
		{"\"\xC0\xAF\"", false},        // overlong UTF-8
		{"\"\xED\xA0\x80\"", false},    // encoded surrogate
		{"\"a\x01\"", false},           // raw control character
		{"\"a\x7f\"", true},            // DEL is allowed by RFC 8259
		{deep(32), true},
		{deep(33), false},
		{"1" + strings.Repeat("0", 31), true},  // 32 characters
		{"1" + strings.Repeat("0", 32), false}, // 33 characters
		{`01`, false},
		{`-`, false},
		{`1.`, false},
		{`NaN`, false},
		{`{"a":1,}`, false},
		{`[1,]`, false},
		{`{} {}`, false},
		{`'a'`, false},
		{`{"a":1}/**/`, false},
		{"\f{}", false}, // form feed is not JSON whitespace
	} {
		_, err := parseStrict([]byte(c.text))
		if (err == nil) != c.ok {
			t.Errorf("parseStrict(%q): ok=%v, want %v", c.text, err == nil, c.ok)
		}
	}
}

func TestStrictJSONKeepsIntegersExact(t *testing.T) {
	p, err := parseStrict([]byte(`{"sequence":9223372036854775807,"x":[1.0,1e0]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := p.value.(map[string]any)
	if m["sequence"] != json.Number("9223372036854775807") {
		t.Errorf("sequence read as %v", m["sequence"])
	}
	if !p.nonInteger {
		t.Error("1.0 and 1e0 not flagged as non-integer literals")
	}
	if q, _ := parseStrict([]byte(`[0,-0,12]`)); q.nonInteger {
		t.Error("integer literals flagged")
	}
}

func TestCanonicalBase64URL(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"", true},
		{"AA", true},   // one byte, unused bits zero
		{"AB", false},  // stray low bits
		{"AAA", true},  // two bytes
		{"AAB", false}, // stray low bits
		{"AAAA", true},
		{"A", false}, // length mod 4 = 1
		{"AA==", false},
		{"A+/A", false},
		{"AA\nAA", false}, // Go's decoder would skip the newline
		{"-_-_", true},
	} {
		_, ok := decodeCanonical(c.text)
		if ok != c.ok {
			t.Errorf("decodeCanonical(%q): %v, want %v", c.text, ok, c.ok)
		}
	}
}
