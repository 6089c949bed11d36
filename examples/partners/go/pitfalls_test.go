package main

// The go-jose pitfalls of SPEC §9, shown on the conformance vectors with the
// library alone (no check of this verifier in front of it): each vector is one
// the spec refuses, and go-jose v4 (the version in go.mod) accepts or verifies
// it, except `=` padding, which ParseSignedJSON refuses itself. If a go-jose
// upgrade changes any of these, this test fails and §9 must be revised.

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

const vectorDir = "../../../schemas/vectors"

// keyOf is the public key of the certificate that signature 1 of jws names by kid.
func keyOf(t *testing.T, jws *jose.JSONWebSignature) ed25519.PublicKey {
	t.Helper()
	var manifest struct {
		Roots []string `json:"roots"`
	}
	data, err := os.ReadFile(filepath.Join(vectorDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	tr, err := loadTrust(filepath.Join(vectorDir, "bundle.pem"), manifest.Roots)
	if err != nil {
		t.Fatal(err)
	}
	cert := tr.byKid[jws.Signatures[0].Protected.KeyID]
	if cert == nil {
		t.Fatalf("no certificate for kid %q", jws.Signatures[0].Protected.KeyID)
	}
	return cert.cert.PublicKey.(ed25519.PublicKey)
}

func parseVector(t *testing.T, id string) (*jose.JSONWebSignature, error) {
	t.Helper()
	record, err := os.ReadFile(filepath.Join(vectorDir, id+".jws.json"))
	if err != nil {
		t.Fatal(err)
	}
	return jose.ParseSignedJSON(string(record), []jose.SignatureAlgorithm{jose.EdDSA})
}

func TestGoJoseAcceptsWhatTheSpecRefuses(t *testing.T) {
	// Each of these verifies in go-jose with the key its kid names.
	for _, id := range []string{
		"reject/ENV-03-flattened",            // the flattened serialization
		"reject/ENV-03-extra-member",         // an unknown top-level member
		"reject/ENV-05-unprotected-header",   // an unprotected `header`
		"reject/ENV-06-signature-stray-bits", // non-canonical base64url
		"reject/ENV-06-escaped-payload",      // a \u escape in the payload string
		"reject/ENV-10-crit",                 // crit ["b64"] with b64 true
		"reject/ENV-10-b64-false",            // RFC 7797: verified over the unencoded payload
	} {
		jws, err := parseVector(t, id)
		if err != nil {
			t.Errorf("%s: ParseSignedJSON refused it (%v); SPEC §9 says go-jose accepts it", id, err)
			continue
		}
		if _, err := jws.Verify(keyOf(t, jws)); err != nil {
			t.Errorf("%s: go-jose did not verify it (%v); SPEC §9 says it does", id, err)
		}
	}
}

func TestGoJoseVerifyMultiPassesWithOneGoodSignature(t *testing.T) {
	jws, err := parseVector(t, "reject/ENV-23-second-signature-bad")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := jws.VerifyMulti(keyOf(t, jws)); err != nil {
		t.Errorf("VerifyMulti refused a record whose first signature verifies: %v", err)
	}
}

func TestGoJoseRefusesPadding(t *testing.T) {
	if _, err := parseVector(t, "reject/ENV-06-signature-padding"); err == nil {
		t.Error("ParseSignedJSON accepted `=` padding; SPEC §9 says it refuses it")
	}
}

// SPEC §12.7: go-jose does not know batched elements. ParseSignedJSON reads one
// as a signature of zero bytes (the batch member ignored), and VerifyMulti
// accepts a record whose batched signature is broken when a per-message
// co-signature verifies.
func TestGoJoseIgnoresTheBatchMember(t *testing.T) {
	jws, err := parseVector(t, "reject/BAT-04-cosigned-path-wrong")
	if err != nil {
		t.Fatalf("ParseSignedJSON refused a batched record (%v); SPEC §12.7 says it reads it", err)
	}
	if len(jws.Signatures) != 2 || len(jws.Signatures[0].Signature) != 0 {
		t.Fatalf("go-jose read the batched element otherwise than as an empty signature")
	}
	cosigner := *jws
	cosigner.Signatures = []jose.Signature{jws.Signatures[1]}
	key := keyOf(t, &cosigner)
	if _, _, _, err := jws.VerifyMulti(key); err != nil {
		t.Errorf("VerifyMulti refused the record (%v); SPEC §12.7 says it accepts it", err)
	}
}
