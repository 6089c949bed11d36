package main

// Trust anchors (SPEC §4): the PEM bundle, the pinned roots, agency
// certificates and the roots' CRLs.
//
// PITFALL (SPEC §9 "Go x509.Certificate.Verify"): Verify checks expiry before
// the issuer (the wrong order for ENV-18..ENV-21), consults no CRL, and treats
// every CA in the pool as a root. It is not used: each rule is checked on its
// own below and in verify.go, in table order.
// PITFALL (SPEC §9 "Roots"): only certificates whose fingerprint is pinned are
// roots; a CA certificate in the bundle with the same name is not.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"strings"
	"time"
)

var (
	agencyIDPattern = regexp.MustCompile(`^(JPN|AUS|USA)\.[A-Z][A-Z0-9-]{1,31}$`)
	oidKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 15}
	alpha2To3       = map[string]string{"JP": "JPN", "AU": "AUS", "US": "USA"}
)

type root struct {
	cert    *x509.Certificate
	country string // alpha-3
	revoked []*big.Int
}

type agencyCert struct {
	cert    *x509.Certificate
	agency  string // from the SAN URI
	country string // the agency id's prefix, never the subject C
}

type trust struct {
	roots  []*root
	byKid  map[string]*agencyCert
	loaded time.Time
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// signedBy reports whether parent's Ed25519 key verifies sig over tbs.
func signedBy(parent *x509.Certificate, tbs, sig []byte, alg x509.SignatureAlgorithm) bool {
	pub, ok := parent.PublicKey.(ed25519.PublicKey)
	if !ok || alg != x509.PureEd25519 {
		return false
	}
	return ed25519.Verify(pub, tbs, sig)
}

// loadTrust reads the bundle and the pinned roots. An error here is a
// configuration error (the verifier refuses to run), never a verdict.
func loadTrust(path string, pinned []string) (*trust, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read bundle: %w", err)
	}
	var certs []*x509.Certificate
	var crls []*x509.RevocationList
	// PEM blocks are read one by one: certificates and CRLs are mixed, and
	// anything between blocks is ignored.
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("bundle certificate: %w", err)
			}
			certs = append(certs, c)
		case "X509 CRL":
			l, err := x509.ParseRevocationList(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("bundle CRL: %w", err)
			}
			crls = append(crls, l)
		}
	}
	t := &trust{byKid: map[string]*agencyCert{}}
	for _, fp := range pinned {
		var found *root
		for _, c := range certs {
			if fingerprint(c.Raw) != fp {
				continue
			}
			pub, isEd := c.PublicKey.(ed25519.PublicKey)
			if !isEd || !c.BasicConstraintsValid || !c.IsCA ||
				!bytes.Equal(c.RawIssuer, c.RawSubject) ||
				!ed25519.Verify(pub, c.RawTBSCertificate, c.Signature) ||
				len(c.Subject.Country) != 1 || alpha2To3[c.Subject.Country[0]] == "" {
				continue
			}
			found = &root{cert: c, country: alpha2To3[c.Subject.Country[0]]}
		}
		if found == nil {
			return nil, fmt.Errorf("pinned root %s names no self-signed Ed25519 CA certificate with one C of JP, AU or US in the bundle", fp)
		}
		t.roots = append(t.roots, found)
	}
	for _, c := range certs {
		if c.BasicConstraintsValid && c.IsCA {
			continue // a CA that is not pinned is not a root, and not an agency
		}
		if _, ok := c.PublicKey.(ed25519.PublicKey); !ok {
			return nil, fmt.Errorf("agency certificate %s: not an Ed25519 key", c.Subject)
		}
		if len(c.URIs) != 1 || c.URIs[0].Scheme != "urn" ||
			!strings.HasPrefix(c.URIs[0].Opaque, "accord:agency:") {
			return nil, fmt.Errorf("agency certificate %s: SAN is not one urn:accord:agency: URI", c.Subject)
		}
		id := strings.TrimPrefix(c.URIs[0].Opaque, "accord:agency:")
		if !agencyIDPattern.MatchString(id) || c.Subject.CommonName != id {
			return nil, fmt.Errorf("agency certificate %s: SAN id %q and CN do not match the profile", c.Subject, id)
		}
		// The country is the agency id's prefix, not the subject's C (§4.1).
		t.byKid[fingerprint(c.Raw)] = &agencyCert{cert: c, agency: id, country: id[:3]}
	}
	// A CRL applies only when a root signed it; others are ignored.
	for _, l := range crls {
		for _, r := range t.roots {
			if bytes.Equal(l.RawIssuer, r.cert.RawSubject) &&
				signedBy(r.cert, l.RawTBSRevocationList, l.Signature, l.SignatureAlgorithm) {
				for _, e := range l.RevokedCertificateEntries {
					r.revoked = append(r.revoked, e.SerialNumber)
				}
			}
		}
	}
	return t, nil
}

// issuerOf returns the root of the agency's country that issued c (ENV-18).
func (t *trust) issuerOf(a *agencyCert) *root {
	for _, r := range t.roots {
		if r.country == a.country && bytes.Equal(a.cert.RawIssuer, r.cert.RawSubject) &&
			signedBy(r.cert, a.cert.RawTBSCertificate, a.cert.Signature, a.cert.SignatureAlgorithm) {
			return r
		}
	}
	return nil
}

// hasDigitalSignature: the keyUsage extension is present and has
// digitalSignature (ENV-19). Go leaves KeyUsage zero when the extension is
// absent, so presence is checked on the extension list itself.
func hasDigitalSignature(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidKeyUsage) {
			return c.KeyUsage&x509.KeyUsageDigitalSignature != 0
		}
	}
	return false
}

func (r *root) revokes(c *x509.Certificate) bool {
	for _, s := range r.revoked {
		if s.Cmp(c.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// validAt: notBefore <= t <= notAfter, both inclusive (§4.2).
func validAt(c *x509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}
