package main

import "encoding/base64"

// PITFALL (SPEC §9 "= padding and non-canonical base64url"): go-jose ignores
// stray low bits in the last character and re-encodes, so 4 or 16 spellings of
// one signature verify (go-jose v4.1.9's ParseSignedJSON accepts the vector
// reject/ENV-06-signature-stray-bits and VerifyMulti verifies it; it does refuse
// `=` padding, but other JOSE libraries take it). Every base64url string is
// checked here, on the raw text, before the library sees the record (ENV-06).

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// decodeCanonical decodes s if it is canonical unpadded base64url (§3.2).
func decodeCanonical(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	switch len(s) % 4 {
	case 1:
		return nil, false
	case 2:
		// the last character carries 4 unused bits
		if indexOf(s[len(s)-1])%16 != 0 {
			return nil, false
		}
	case 3:
		// the last character carries 2 unused bits
		if indexOf(s[len(s)-1])%4 != 0 {
			return nil, false
		}
	}
	// Strict() makes the library refuse stray bits too; the checks above say
	// why without relying on it.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

func indexOf(c byte) int {
	for i := 0; i < len(b64Alphabet); i++ {
		if b64Alphabet[i] == c {
			return i
		}
	}
	return -1
}

// b64url is the canonical (unpadded) base64url spelling of b.
func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
