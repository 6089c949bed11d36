package main

// Batch signatures (SPEC §12): a signature element {"protected","batch"} whose
// batch holds a root statement R (a compact JWS over the tree size and root
// hash of an RFC 9162 Merkle tree), the record's leaf index and its audit
// path. The leaf is the element's ENV-23 signing input, so a batched record
// means what a per-message one means. Each rule below is one function, called
// by verify in table order: BAT-01 after ENV-05, BAT-02 after ENV-06, BAT-03
// after ENV-16, ENV-23's batched branch, BAT-04 right after ENV-23.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	maxRootChars = 1024
	maxPath      = 16
	maxTreeSize  = 65536
	batchTyp     = "accord-batch+jws"
)

// batchElem is one batched signature element as the rules read it.
type batchElem struct {
	root      string
	index     json.Number
	pathText  []string
	rhB64     string
	rpB64     string
	sigB64    string
	path      [][]byte
	sig       []byte
	treeSize  int64
	rootHash  []byte
	indexInt  int64
	rhPayload []byte // RP's bytes, what go-jose must return for R
}

// checkBatchMembers is BAT-01 for signature i (1-based in messages).
func checkBatchMembers(i int, m map[string]any, s *signer) *verdict {
	b, ok := m["batch"].(map[string]any)
	root, okRoot := b["root"].(string)
	index, okIndex := b["index"].(json.Number)
	path, okPath := b["path"].([]any)
	if !ok || !okRoot || !okIndex || !isIntegerLiteral(index) || !okPath ||
		len(m) != 2 || len(b) != 3 ||
		utf8.RuneCountInString(root) > maxRootChars || len(path) > maxPath {
		if v := reject("BAT-01", "malformed", "signature %d: batch must be exactly a root of at most %d characters, an integer index and a path of at most %d strings", i+1, maxRootChars, maxPath); v != nil {
			return v
		}
	}
	e := &batchElem{root: root, index: index}
	for _, h := range path {
		t, ok := h.(string)
		if !ok {
			if v := reject("BAT-01", "malformed", "signature %d: a path element is not a string", i+1); v != nil {
				return v
			}
		}
		e.pathText = append(e.pathText, t)
	}
	s.batch = e
	return nil
}

// checkBatchEncoding is BAT-02: R is three canonical base64url parts; every
// path element is canonical base64url of 32 bytes.
func checkBatchEncoding(i int, s *signer) *verdict {
	e := s.batch
	parts := strings.Split(e.root, ".")
	ok := len(parts) == 3
	var rh, rp []byte
	if ok {
		var ok1, ok2, ok3 bool
		rh, ok1 = decodeCanonical(parts[0])
		rp, ok2 = decodeCanonical(parts[1])
		e.sig, ok3 = decodeCanonical(parts[2])
		ok = ok1 && ok2 && ok3
		e.rhB64, e.rpB64, e.sigB64 = parts[0], parts[1], parts[2]
	}
	if !ok {
		if v := reject("BAT-02", "malformed", "signature %d: root is not three canonical base64url parts", i+1); v != nil {
			return v
		}
		// mutated: read the parts as a lenient decoder would
		e.rhB64, e.rpB64, e.sigB64 = part(parts, 0), part(parts, 1), part(parts, 2)
		rh, rp, e.sig = lenient(e.rhB64), lenient(e.rpB64), lenient(e.sigB64)
	}
	_ = rh
	e.rhPayload = rp
	for _, t := range e.pathText {
		h, ok := decodeCanonical(t)
		if !ok || len(h) != sha256.Size {
			if v := reject("BAT-02", "malformed", "signature %d: a path element is not canonical base64url of 32 bytes", i+1); v != nil {
				return v
			}
			h = lenient(t)
		}
		e.path = append(e.path, h)
	}
	return nil
}

// checkRootStatement is BAT-03: the root header and payload, then the
// record's place in that tree.
func checkRootStatement(i int, s *signer) *verdict {
	e := s.batch
	rhBytes, _ := decodeCanonical(e.rhB64)
	if rhBytes == nil {
		rhBytes = lenient(e.rhB64)
	}
	rhParsed, err := parseStrict(rhBytes)
	rh, ok := rhParsed.value.(map[string]any)
	alg, okAlg := rh["alg"].(string)
	if err != nil || !ok || !okAlg {
		if v := reject("BAT-03", "malformed", "signature %d: root header is not a strict JSON object with a string alg", i+1); v != nil {
			return v
		}
	}
	// PITFALL (SPEC §9 "Algorithm pinning"): R is a JWS of its own; its alg is
	// pinned like the record's, before go-jose sees it.
	if alg != "EdDSA" {
		if v := reject("BAT-03", "unsupported-alg", "signature %d: root alg %q", i+1, alg); v != nil {
			return v
		}
	}
	kid, _ := rh["kid"].(string)
	typ, _ := rh["typ"].(string)
	_, hasKid := rh["kid"]
	_, hasTyp := rh["typ"]
	if len(rh) != 3 || !hasKid || !hasTyp || typ != batchTyp || !isLowerHex64(kid) {
		if v := reject("BAT-03", "malformed", "signature %d: root header must be exactly alg, kid and typ %s", i+1, batchTyp); v != nil {
			return v
		}
	}
	rpBytes := e.rhPayload
	rpParsed, err := parseStrict(rpBytes)
	rp, ok := rpParsed.value.(map[string]any)
	size, okSize := rp["tree_size"].(json.Number)
	digest, okDigest := rp["root_hash"].(string)
	n, errN := strconv.ParseInt(string(size), 10, 64)
	hash, okHash := decodeCanonical(digest)
	if err != nil || !ok || len(rp) != 2 || !okSize || !isIntegerLiteral(size) || errN != nil ||
		n < 1 || n > maxTreeSize || !okDigest || !okHash || len(hash) != sha256.Size {
		if v := reject("BAT-03", "malformed", "signature %d: root payload must be exactly tree_size (1 to %d) and a 32-byte root_hash", i+1, maxTreeSize); v != nil {
			return v
		}
	}
	e.treeSize, e.rootHash = n, hash
	if kid != s.kid {
		if v := reject("BAT-03", "malformed", "signature %d: root kid is not the protected header's kid", i+1); v != nil {
			return v
		}
	}
	index, err := strconv.ParseInt(string(e.index), 10, 64)
	if err != nil || index < 0 || index >= n {
		if v := reject("BAT-03", "malformed", "signature %d: index %s is not in a tree of %d", i+1, e.index, n); v != nil {
			return v
		}
	}
	e.indexInt = index
	if want := auditPathLength(index, n); len(e.path) != want {
		if v := reject("BAT-03", "malformed", "signature %d: path of %d hashes, the audit path has %d", i+1, len(e.path), want); v != nil {
			return v
		}
	}
	return nil
}

// verifyRoot is ENV-23 for a batched element: R's signature, with go-jose
// (compact serialization, EdDSA only) and again with crypto/ed25519 over the
// transmitted text.
func verifyRoot(i int, s *signer) *verdict {
	e := s.batch
	pub := s.cert.cert.PublicKey.(ed25519.PublicKey)
	if len(e.sig) != ed25519.SignatureSize {
		return reject("ENV-23", "bad-signature", "signature %d: root signature of %d bytes, not 64", i+1, len(e.sig))
	}
	// ParseSignedCompact, never the deprecated ParseSigned (which also takes the
	// JSON forms). BAT-02 and BAT-03 already made R safe for the library.
	jws, err := jose.ParseSignedCompact(e.root, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return reject("ENV-23", "bad-signature", "signature %d: go-jose refused the root: %v", i+1, err)
	}
	payload, err := jws.Verify(pub)
	if err != nil || !bytes.Equal(payload, e.rhPayload) {
		return reject("ENV-23", "bad-signature", "signature %d: root does not verify with %s's key", i+1, s.cert.agency)
	}
	if !ed25519.Verify(pub, []byte(e.rhB64+"."+e.rpB64), e.sig) {
		return reject("ENV-23", "bad-signature", "signature %d: root does not verify over the transmitted text", i+1)
	}
	return nil
}

// checkInclusion is BAT-04: the leaf (the element's ENV-23 signing input) at
// its index leads by its path to the signed root hash.
func checkInclusion(i int, s *signer, signingInput []byte) *verdict {
	e := s.batch
	leaf := leafHash(signingInput)
	root, err := rootFromInclusionProof(leaf, e.indexInt, e.treeSize, e.path)
	if err != nil || subtle.ConstantTimeCompare(root, e.rootHash) != 1 {
		return reject("BAT-04", "bad-signature", "signature %d: the record is not in the signed batch", i+1)
	}
	return nil
}

// RFC 9162 §2.1.1: leaf and node hashes with their domain-separating prefix.
// PITFALL: a tree without the 0x00/0x01 prefixes is another tree (vector
// reject/BAT-04-leaf-without-prefix).
func leafHash(data []byte) []byte {
	h := sha256.Sum256(append([]byte{0x00}, data...))
	return h[:]
}

func nodeHash(l, r []byte) []byte {
	b := make([]byte, 0, 1+len(l)+len(r))
	b = append(append(append(b, 0x01), l...), r...)
	h := sha256.Sum256(b)
	return h[:]
}

var errProof = errors.New("inclusion proof does not fit the tree")

// rootFromInclusionProof is RFC 9162 §2.1.3.2, steps 1 to 5.
func rootFromInclusionProof(leaf []byte, index, size int64, path [][]byte) ([]byte, error) {
	if index < 0 || index >= size {
		return nil, errProof
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		if sn == 0 {
			return nil, errProof
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn != 0 && fn&1 == 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return nil, errProof
	}
	return r, nil
}

// auditPathLength is the number of hashes the loop above consumes for leaf
// index in a tree of size leaves: exactly the length of a valid proof.
func auditPathLength(index, size int64) int {
	if index < 0 || index >= size {
		return -1
	}
	fn, sn, n := index, size-1, 0
	for sn != 0 {
		if fn&1 == 1 || fn == sn {
			for fn != 0 && fn&1 == 0 {
				fn >>= 1
				sn >>= 1
			}
		}
		n++
		fn >>= 1
		sn >>= 1
	}
	return n
}

// isIntegerLiteral: `-`? digits, no fraction, no exponent (§3.1).
func isIntegerLiteral(n json.Number) bool {
	s := strings.TrimPrefix(string(n), "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func part(parts []string, i int) string {
	if i < len(parts) {
		return parts[i]
	}
	return ""
}

// lenient decodes as a lax library would (only with a rule switched off).
func lenient(s string) []byte {
	// Without Strict(), encoding/base64 ignores stray low bits.
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil
	}
	return b
}
