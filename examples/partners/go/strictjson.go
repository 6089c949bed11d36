package main

// Strict JSON (SPEC §3.1), written by hand because no standard parser refuses
// everything the spec refuses.
//
// PITFALL (SPEC §9 "Duplicate members"): Go's encoding/json silently keeps the
// LAST of two members with the same name, at any depth; a verifier built on it
// checks one value while another implementation acts on the other.
// PITFALL (SPEC §9 "Lone surrogates, BOM"): encoding/json turns a lone surrogate
// escape into U+FFFD instead of refusing it.
// PITFALL (SPEC §9 "Integers above 2^53"): decoding into interface{} reads every
// number as a float64, exact only up to 2^53; `sequence` goes to 2^63-1. Numbers
// are kept here as their literal text (json.Number).

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	maxDepth     = 32
	maxNumberLen = 32
)

var errStrict = errors.New("not strict JSON")

// parsed is the result of a strict parse: the value (map[string]any, []any,
// string, json.Number, bool or nil) and whether any number literal had a
// fraction or an exponent (not an integer literal, §3.1).
type parsed struct {
	value      any
	nonInteger bool
}

type parser struct {
	b          []byte
	i          int
	nonInteger bool
}

// parseStrict parses b as exactly one strict JSON value.
func parseStrict(b []byte) (parsed, error) {
	// A leading byte-order mark is refused, not skipped (§3.1 item 1).
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return parsed{}, errStrict
	}
	// Go's utf8.Valid refuses overlong forms, encoded surrogates and code points
	// above U+10FFFF, which is RFC 3629 exactly.
	if !utf8.Valid(b) {
		return parsed{}, errStrict
	}
	p := &parser{b: b}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return parsed{}, err
	}
	p.ws()
	if p.i != len(p.b) {
		return parsed{}, errStrict
	}
	return parsed{value: v, nonInteger: p.nonInteger}, nil
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, errStrict
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range []struct {
			text string
			v    any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if len(p.b)-p.i >= len(lit.text) && string(p.b[p.i:p.i+len(lit.text)]) == lit.text {
				p.i += len(lit.text)
				return lit.v, nil
			}
		}
		return nil, errStrict
	}
}

func (p *parser) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errStrict
	}
	p.i++ // '{'
	m := map[string]any{}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errStrict
		}
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		// Names are compared after unescaping: "a" and "\u0061" collide.
		if _, dup := m[name]; dup {
			return nil, errStrict
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errStrict
		}
		p.i++
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		m[name] = v
		p.ws()
		if p.i >= len(p.b) {
			return nil, errStrict
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, errStrict
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errStrict
	}
	p.i++ // '['
	a := []any{}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.ws()
		if p.i >= len(p.b) {
			return nil, errStrict
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, errStrict
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

func (p *parser) str() (string, error) {
	p.i++ // '"'
	var out []byte
	for {
		if p.i >= len(p.b) {
			return "", errStrict
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", errStrict
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		// an escape
		if p.i+1 >= len(p.b) {
			return "", errStrict
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(p.b[p.i:])
			if !ok {
				return "", errStrict
			}
			p.i += 4
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				// A high surrogate must be followed at once by a \u low surrogate
				// (§3.1 item 4).
				if p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
					return "", errStrict
				}
				lo, ok := hex4(p.b[p.i+2:])
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "", errStrict
				}
				p.i += 6
				out = utf8.AppendRune(out, utf16.DecodeRune(r, lo))
			case r >= 0xDC00 && r <= 0xDFFF:
				return "", errStrict // a lone low surrogate
			default:
				out = utf8.AppendRune(out, r)
			}
		default:
			return "", errStrict
		}
	}
}

func (p *parser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, errStrict
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		p.nonInteger = true
		if digits() == 0 {
			return nil, errStrict
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		p.nonInteger = true
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, errStrict
		}
	}
	if p.i-start > maxNumberLen {
		return nil, errStrict
	}
	return json.Number(p.b[start:p.i]), nil
}

// parseLenient is what a verifier built on encoding/json does (last of
// duplicated members wins, lone surrogates become U+FFFD). It is used only by
// the ENV-02 mutant of -mutate, to show that the vectors catch it.
func parseLenient(b []byte) (parsed, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return parsed{}, err
	}
	return parsed{value: v}, nil
}
