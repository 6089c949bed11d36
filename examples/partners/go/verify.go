package main

// The rule table of SPEC §5.2, in evaluation order. Each check is one block
// headed by its rule id; a rule marked "each" in the spec loops over every
// signature before the next rule runs (§5.1), so the first failing rule wins
// across all signatures.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// verdict is the outcome of one verification: reason "" means accept.
type verdict struct {
	reason string
	rule   string
	detail string
}

// mutated is the one rule switched off by -mutate (for the mutation test only:
// it shows that every rule here is needed to agree with the suite).
var mutated string

// reject returns the verdict of a failed rule, or nil when that rule is the
// one switched off, so evaluation goes on as if it had passed.
func reject(rule, reason, format string, args ...any) *verdict {
	if rule == mutated {
		return nil
	}
	return &verdict{reason: reason, rule: rule, detail: fmt.Sprintf(format, args...)}
}

type input struct {
	record   []byte
	topic    string
	now      time.Time
	maxBytes int
	trust    *trust
	schemas  *schemas
	decrypt  *decryptRequest // protocol v2: this reader's keys; nil for a v1 request
	// plaintext, when not nil, receives an accepted v2 record's decrypted body.
	plaintext *[]byte
}

type signer struct {
	protectedB64 string
	signatureB64 string
	header       map[string]any
	kid          string
	cert         *agencyCert
	root         *root
	batch        *batchElem // a batched element (SPEC §12); nil: per-message
}

// structuralBound is ENV-02's bound on the bytes `{ [ : ,` in a record: its
// strings are all base64url, so these occur only in its JSON structure (4 + 5
// per signature: 44 with 8 signatures). The spec sets the bound at 64, part of
// ENV-02, so a record over it is ENV-02 in every verifier; one of up to 12
// well-formed signatures still reaches ENV-04. Counting bounds the work done on
// untrusted bytes before any general parse (§5.4).
// PITFALL (SPEC §9 "Bounded work"): a 1 MiB record of `[[[[…` costs a general
// parser far more than a valid message; it never reaches one here.
const structuralBound = 64

var v2Payload = regexp.MustCompile(`"payload"[ \t\r\n]*:[ \t\r\n]*"\{`)

// outsideV2Payload is the record without its v2 payload string, if it has
// one: SPEC §11.1 counts ENV-02's structure bytes outside that string only (the
// payload is JSON text, bounded by max_bytes and parsed after the signatures).
// Found as Python's reference does: the first `"payload":"{` and the end of
// that JSON string.
func outsideV2Payload(record []byte) []byte {
	loc := v2Payload.FindIndex(record)
	if loc == nil || mutated == "ENC-01" {
		return record
	}
	start := loc[1] - 2 // the opening quote
	for i := start + 1; i < len(record); i++ {
		switch record[i] {
		case '\\':
			i++
		case '"':
			return append(append([]byte{}, record[:start]...), record[i+1:]...)
		}
	}
	return record
}

func verify(in input) *verdict {
	// ENV-01
	if len(in.record) > in.maxBytes {
		if v := reject("ENV-01", "oversized", "%d bytes > max_bytes %d", len(in.record), in.maxBytes); v != nil {
			return v
		}
	}
	n := 0
	for _, c := range outsideV2Payload(in.record) {
		if c == '{' || c == '[' || c == ':' || c == ',' {
			n++
		}
	}
	if n > structuralBound {
		if v := reject("ENV-02", "malformed", "more than %d of the bytes { [ : ,", structuralBound); v != nil {
			return v
		}
	}
	// ENV-02
	parse := parseStrict
	if mutated == "ENV-02" {
		// The realistic mutant of a parse rule is a lenient parser, not none.
		parse = parseLenient
	}
	rec, err := parse(in.record)
	if err != nil {
		if v := reject("ENV-02", "malformed", "record is not strict JSON"); v != nil {
			return v
		}
	}
	// ENV-03. PITFALL (SPEC §9): go-jose's ParseSignedJSON also accepts the
	// flattened serialization (and ParseSigned, deprecated, the compact one),
	// and ignores unknown members: the shape is checked before it sees the record.
	top, ok := rec.value.(map[string]any)
	if !ok || len(top) != 2 {
		if v := reject("ENV-03", "malformed", "record is not an object of exactly payload and signatures"); v != nil {
			return v
		}
	}
	payloadB64, ok1 := top["payload"].(string)
	sigs, ok2 := top["signatures"].([]any)
	if !ok1 || !ok2 {
		if v := reject("ENV-03", "malformed", "payload must be a string and signatures an array"); v != nil {
			return v
		}
	}
	// ENV-04
	if len(sigs) < 1 || len(sigs) > 8 {
		if v := reject("ENV-04", "malformed", "%d signatures (1 to 8)", len(sigs)); v != nil {
			return v
		}
	}
	// ENV-05. PITFALL (SPEC §9): go-jose merges an unprotected `header` into the
	// signature's headers; it is refused here.
	signers := make([]*signer, len(sigs))
	for i, s := range sigs {
		m, ok := s.(map[string]any)
		if _, batched := m["batch"]; batched {
			// A batched element (SPEC §12): its members are BAT-01's.
			p, ok := m["protected"].(string)
			if !ok {
				if v := reject("ENV-05", "malformed", "signature %d: protected must be a string", i+1); v != nil {
					return v
				}
			}
			signers[i] = &signer{protectedB64: p, batch: &batchElem{}}
			continue
		}
		if !ok || len(m) != 2 {
			if v := reject("ENV-05", "malformed", "signature %d is not an object of exactly protected and signature", i+1); v != nil {
				return v
			}
		}
		p, ok1 := m["protected"].(string)
		g, ok2 := m["signature"].(string)
		if !ok1 || !ok2 {
			if v := reject("ENV-05", "malformed", "signature %d: protected and signature must be strings", i+1); v != nil {
				return v
			}
		}
		signers[i] = &signer{protectedB64: p, signatureB64: g}
	}
	// BAT-01 (each batched element)
	for i, s := range signers {
		if s.batch != nil {
			if v := checkBatchMembers(i, sigs[i].(map[string]any), s); v != nil {
				return v
			}
		}
	}
	// ENC-01: a payload starting with { is v2's unencoded payload (RFC 7797),
	// spelt with the minimal escaping only (\" and \\, nowhere else).
	v2 := len(payloadB64) > 0 && payloadB64[0] == '{' && mutated != "ENC-01"
	if v2 {
		minimal := minimalEscape(payloadB64)
		if !bytes.Contains(in.record, minimal) ||
			bytes.Count(in.record, []byte{'\\'}) != bytes.Count(minimal, []byte{'\\'}) {
			if v := reject("ENC-01", "malformed", "a v2 record is spelt with the minimal escaping of its payload only"); v != nil {
				return v
			}
		}
	}
	// ENV-06
	payload, ok := decodeCanonical(payloadB64)
	if v2 {
		payload, ok = []byte(payloadB64), true
	}
	if !ok {
		if v := reject("ENV-06", "malformed", "payload is not canonical base64url"); v != nil {
			return v
		}
	}
	// ENV-06: no JSON escape anywhere. No string of a valid record needs one, so
	// the signing input of ENV-23 is the transmitted text itself: go-jose, like
	// encoding/json, would unescape `\u0041` to `A` and verify it.
	if !v2 && bytes.IndexByte(in.record, '\\') >= 0 {
		if v := reject("ENV-06", "malformed", "the record holds a JSON escape"); v != nil {
			return v
		}
	}
	protected := make([][]byte, len(signers))
	sigBytes := make([][]byte, len(signers))
	for i, s := range signers {
		if protected[i], ok = decodeCanonical(s.protectedB64); !ok {
			if v := reject("ENV-06", "malformed", "signature %d: protected is not canonical base64url", i+1); v != nil {
				return v
			}
		}
		if s.batch != nil {
			continue
		}
		if sigBytes[i], ok = decodeCanonical(s.signatureB64); !ok {
			if v := reject("ENV-06", "malformed", "signature %d: signature is not canonical base64url", i+1); v != nil {
				return v
			}
		}
	}
	// BAT-02 (each batched element)
	for i, s := range signers {
		if s.batch != nil {
			if v := checkBatchEncoding(i, s); v != nil {
				return v
			}
		}
	}
	// ENV-07 (each)
	for i, s := range signers {
		if len(s.protectedB64) > 1024 {
			if v := reject("ENV-07", "malformed", "signature %d: protected over 1024 characters", i+1); v != nil {
				return v
			}
		}
		h, err := parseStrict(protected[i])
		if err != nil {
			if v := reject("ENV-07", "malformed", "signature %d: protected header is not strict JSON", i+1); v != nil {
				return v
			}
		}
		if s.header, ok = h.value.(map[string]any); !ok {
			if v := reject("ENV-07", "malformed", "signature %d: protected header is not an object", i+1); v != nil {
				return v
			}
		}
	}
	// ENV-08 (each)
	for i, s := range signers {
		if _, ok := s.header["alg"].(string); !ok {
			if v := reject("ENV-08", "malformed", "signature %d: no string alg", i+1); v != nil {
				return v
			}
		}
	}
	// ENV-09 (each). PITFALL (SPEC §9 "Algorithm pinning"): pinned here by hand,
	// and again by passing only jose.EdDSA to ParseSignedJSON below.
	for i, s := range signers {
		if alg, _ := s.header["alg"].(string); alg != "EdDSA" {
			if v := reject("ENV-09", "unsupported-alg", "signature %d: alg %q", i+1, alg); v != nil {
				return v
			}
		}
	}
	// ENV-10 (each). PITFALL (SPEC §9 "crit"): any crit is malformed here,
	// before the signature; key pointers (jku, x5u, jwk, x5c) are never followed.
	// go-jose understands `b64` (RFC 7797): it accepts crit ["b64"] and, with
	// "b64": false, verifies over the raw payload instead; so crit cannot be left
	// to the library (v4.1.9 verifies reject/ENV-10-crit).
	// ENC-02 (each): a v2 signer commits to the unencoded reading.
	for i, s := range signers {
		if !v2 {
			break
		}
		crit, _ := s.header["crit"].([]any)
		if b, ok := s.header["b64"].(bool); !ok || b || len(crit) != 1 || crit[0] != "b64" {
			if v := reject("ENC-02", "malformed", "signature %d: v2 needs b64 false and crit [\"b64\"]", i+1); v != nil {
				return v
			}
		}
	}
	for i, s := range signers {
		for k := range s.header {
			switch k {
			case "alg", "kid", "typ", "cty", "x5t#S256":
			case "b64", "crit":
				if v2 {
					continue
				}
				if v := reject("ENV-10", "malformed", "signature %d: header member %q", i+1, k); v != nil {
					return v
				}
			default:
				if v := reject("ENV-10", "malformed", "signature %d: header member %q", i+1, k); v != nil {
					return v
				}
			}
		}
		for _, k := range []string{"alg", "kid", "typ", "cty"} {
			if _, ok := s.header[k]; !ok {
				if v := reject("ENV-10", "malformed", "signature %d: no %s", i+1, k); v != nil {
					return v
				}
			}
		}
	}
	// ENV-11 (each)
	for i, s := range signers {
		if typ, ok := s.header["typ"].(string); !ok || typ != "accord+jws" {
			if v := reject("ENV-11", "malformed", "signature %d: typ is not accord+jws", i+1); v != nil {
				return v
			}
		}
	}
	// ENV-12 (each)
	for i, s := range signers {
		kid, ok := s.header["kid"].(string)
		if !ok || !isLowerHex64(kid) {
			if v := reject("ENV-12", "malformed", "signature %d: kid is not 64 lower-case hex digits", i+1); v != nil {
				return v
			}
		}
		s.kid = kid
	}
	// ENV-13 (each)
	for i, s := range signers {
		if x, present := s.header["x5t#S256"]; present {
			xs, ok := x.(string)
			if !ok || xs != b64url(hexBytes(s.kid)) {
				if v := reject("ENV-13", "malformed", "signature %d: x5t#S256 does not match kid", i+1); v != nil {
					return v
				}
			}
		}
	}
	// ENV-14 (each)
	for i, s := range signers {
		if _, ok := s.header["cty"].(string); !ok {
			if v := reject("ENV-14", "malformed", "signature %d: cty is not a string", i+1); v != nil {
				return v
			}
		}
	}
	var cty string
	if len(signers) > 0 { // always, unless ENV-04 is switched off by -mutate
		cty, _ = signers[0].header["cty"].(string)
	}
	// ENV-15
	for i, s := range signers {
		if c, _ := s.header["cty"].(string); c != cty {
			if v := reject("ENV-15", "malformed", "signature %d: cty differs from signature 1's", i+1); v != nil {
				return v
			}
		}
	}
	// ENV-16
	seenKid := map[string]bool{}
	for i, s := range signers {
		if seenKid[s.kid] {
			if v := reject("ENV-16", "malformed", "signature %d: kid already signed", i+1); v != nil {
				return v
			}
		}
		seenKid[s.kid] = true
	}
	// BAT-03 (each batched element)
	for i, s := range signers {
		if s.batch != nil {
			if v := checkRootStatement(i, s); v != nil {
				return v
			}
		}
	}
	// ENV-17 (each): only the local bundle; nothing is fetched.
	for i, s := range signers {
		if s.cert = in.trust.byKid[s.kid]; s.cert == nil {
			if v := reject("ENV-17", "unknown-key", "signature %d: no agency certificate with kid %s", i+1, s.kid); v != nil {
				return v
			}
		}
	}
	// ENV-18 (each)
	for i, s := range signers {
		if s.root = in.trust.issuerOf(s.cert); s.root == nil {
			if v := reject("ENV-18", "untrusted-issuer", "signature %d: %s not issued by a pinned %s root", i+1, s.cert.agency, s.cert.country); v != nil {
				return v
			}
		}
	}
	// ENV-19 (each)
	for i, s := range signers {
		if !hasDigitalSignature(s.cert.cert) {
			if v := reject("ENV-19", "untrusted-issuer", "signature %d: keyUsage lacks digitalSignature", i+1); v != nil {
				return v
			}
		}
	}
	// ENV-20 (each): before expiry (§5.4 "Expired and revoked").
	for i, s := range signers {
		if s.root.revokes(s.cert.cert) {
			if v := reject("ENV-20", "revoked", "signature %d: %s's certificate is revoked", i+1, s.cert.agency); v != nil {
				return v
			}
		}
	}
	// ENV-21 (each)
	for i, s := range signers {
		if !validAt(s.cert.cert, in.now) || !validAt(s.root.cert, in.now) {
			if v := reject("ENV-21", "expired-cert", "signature %d: certificate or root not valid at now", i+1); v != nil {
				return v
			}
		}
	}
	// ENV-22
	seenAgency := map[string]bool{}
	for i, s := range signers {
		if seenAgency[s.cert.agency] {
			if v := reject("ENV-22", "malformed", "signature %d: agency %s already signed", i+1, s.cert.agency); v != nil {
				return v
			}
		}
		seenAgency[s.cert.agency] = true
	}
	// ENV-23 (each): batched elements' roots, then the per-message signatures.
	// All are one rule: which fails first among them does not change the verdict.
	var perMessage []*signer
	var perMessageSigs [][]byte
	for i, s := range signers {
		if s.batch == nil {
			perMessage = append(perMessage, s)
			perMessageSigs = append(perMessageSigs, sigBytes[i])
		} else if v := verifyRoot(i, s); v != nil {
			return v
		}
	}
	if v2 {
		// go-jose is not asked to read RFC 7797: the signing input is the
		// protected text, a dot and the payload text, verified directly.
		for i, s := range signers {
			if s.batch != nil {
				continue
			}
			pub := s.cert.cert.PublicKey.(ed25519.PublicKey)
			if len(sigBytes[i]) != ed25519.SignatureSize ||
				!ed25519.Verify(pub, append([]byte(s.protectedB64+"."), payload...), sigBytes[i]) {
				if v := reject("ENV-23", "bad-signature", "signature %d does not verify with %s's key", i+1, s.cert.agency); v != nil {
					return v
				}
			}
		}
		if v := checkInclusions(signers, payload); v != nil {
			return v
		}
		return verifyV2(in, payload, cty, signers)
	}
	if v := verifySignatures(in.record, payloadB64, perMessage, perMessageSigs, len(perMessage) != len(signers)); v != nil {
		return v
	}
	if v := checkInclusions(signers, []byte(payloadB64)); v != nil {
		return v
	}
	// ENV-24 on: the payload, parsed only now that every signature verified.
	if v := verifyPayload(in, payload, cty, signers, false); v != nil {
		return v
	}
	// ENC-04: a decrypting reader whose plan requires encryption.
	if in.decrypt != nil && in.decrypt.EncryptionRequired && cty != "accord.receipt.v1" {
		if v := reject("ENC-04", "plaintext-refused", "plaintext body where the plan requires encryption"); v != nil {
			return v
		}
	}
	// ENC-09: a reader left off the label's need-to-know list.
	if in.decrypt != nil {
		var p struct {
			Header json.RawMessage `json:"header"`
			Label  json.RawMessage `json:"label"`
		}
		if err := json.Unmarshal(payload, &p); err == nil {
			return needToKnow(in.decrypt, p.Header, p.Label)
		}
	}
	return nil
}

// BAT-04 (each batched element), right after ENV-23. payloadText is what
// ENV-23 reads: v1 the base64url text, v2 the payload text.
func checkInclusions(signers []*signer, payloadText []byte) *verdict {
	for i, s := range signers {
		if s.batch != nil {
			if v := checkInclusion(i, s, append([]byte(s.protectedB64+"."), payloadText...)); v != nil {
				return v
			}
		}
	}
	return nil
}

// verifySignatures checks ENV-23 for every per-message signature, with go-jose
// doing the JWS work on a record the checks above have already made safe for
// it. rebuilt: the record also holds batched elements, which go-jose does not
// know, so it gets the record with the per-message elements only.
func verifySignatures(record []byte, payloadB64 string, signers []*signer, sigBytes [][]byte, rebuilt bool) *verdict {
	if len(signers) == 0 {
		return nil
	}
	if rebuilt {
		// Every string is canonical base64url (ENV-06): no escaping needed.
		var b strings.Builder
		b.WriteString(`{"payload":"` + payloadB64 + `","signatures":[`)
		for i, s := range signers {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"protected":"` + s.protectedB64 + `","signature":"` + s.signatureB64 + `"}`)
		}
		b.WriteString("]}")
		record = []byte(b.String())
	}
	// The spec's 64-byte rule is checked first, on the decoded bytes.
	for i := range signers {
		if len(sigBytes[i]) != ed25519.SignatureSize {
			if v := reject("ENV-23", "bad-signature", "signature %d: %d bytes, not 64", i+1, len(sigBytes[i])); v != nil {
				return v
			}
		}
	}
	// ParseSignedJSON, never ParseSigned (deprecated; it also takes the compact
	// form). The algorithm list pins EdDSA in the library as well.
	jws, err := jose.ParseSignedJSON(string(record), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(jws.Signatures) != len(signers) {
		// Every shape go-jose refuses was refused above; if it still refuses,
		// fail closed.
		if v := reject("ENV-23", "bad-signature", "go-jose refused the record: %v", err); v != nil {
			return v
		}
	}
	for i, s := range signers {
		pub := s.cert.cert.PublicKey.(ed25519.PublicKey)
		// PITFALL (SPEC §9 "Verify all signatures"): VerifyMulti returns success
		// when ANY one signature verifies. Each signature is verified on its own,
		// as a one-signature JWS, with the key of the certificate its kid names.
		one := *jws
		one.Signatures = []jose.Signature{jws.Signatures[i]}
		if _, err := one.Verify(pub); err != nil {
			if v := reject("ENV-23", "bad-signature", "signature %d does not verify with %s's key", i+1, s.cert.agency); v != nil {
				return v
			}
		}
		// Belt and braces: the signing input exactly as transmitted (go-jose
		// re-encodes the protected header only when it has no original text).
		input := []byte(s.protectedB64 + "." + payloadB64)
		if !ed25519.Verify(pub, input, sigBytes[i]) {
			if v := reject("ENV-23", "bad-signature", "signature %d does not verify over the transmitted text", i+1); v != nil {
				return v
			}
		}
	}
	return nil
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func hexBytes(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
