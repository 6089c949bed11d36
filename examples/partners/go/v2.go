package main

// Envelope v2 in the verifier (SPEC §11): ENC-03, the header and label rules
// (ENV-24 to ENV-33, ENV-41 to ENV-44) on {"header":H,"label":L}, then the
// decrypt stage ENC-09, ENC-05 to ENC-08 with decrypt.go's layer; ENC-08 runs
// the body's rules on {"header":H,"label":L,"body":B}.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// decryptRequest is the conformance request's "decrypt" member (CONFORMANCE.md,
// protocol v2).
type decryptRequest struct {
	Agency             string   `json:"agency"`
	Keys               []string `json:"keys"`
	Announcements      []string `json:"announcements"`
	Entitled           []string `json:"entitled"`
	EncryptionRequired bool     `json:"encryption_required"`
}

// minimalEscape is the payload text as a JSON string token with \" and \\ only
// (the record may hold whitespace around the member's colon, so the token alone).
func minimalEscape(text string) []byte {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return []byte(`"` + r.Replace(text) + `"`)
}

// verifyAnnouncement verifies a compact JWS key announcement (typ
// accord-cwk+jws) with the same trust as envelopes, and returns its payload.
func verifyAnnouncement(compact []byte, tr *trust, now time.Time) ([]byte, error) {
	parts := bytes.Split(bytes.TrimSpace(compact), []byte("."))
	if len(parts) != 3 || len(compact) > 4096+32*2400 {
		return nil, errors.New("not a compact JWS")
	}
	protected, ok1 := decodeCanonical(string(parts[0]))
	payload, ok2 := decodeCanonical(string(parts[1]))
	sig, ok3 := decodeCanonical(string(parts[2]))
	if !ok1 || !ok2 || !ok3 || len(sig) != ed25519.SignatureSize {
		return nil, errors.New("not canonical base64url")
	}
	h, err := parseStrict(protected)
	if err != nil {
		return nil, err
	}
	header, _ := h.value.(map[string]any)
	kid, _ := header["kid"].(string)
	if header["alg"] != "EdDSA" || header["typ"] != "accord-cwk+jws" || !isLowerHex64(kid) {
		return nil, errors.New("protected header is not an announcement's")
	}
	c := tr.byKid[kid]
	if c == nil {
		return nil, errors.New("unknown key")
	}
	r := tr.issuerOf(c)
	if r == nil || !hasDigitalSignature(c.cert) || r.revokes(c.cert) || !validAt(c.cert, now) || !validAt(r.cert, now) {
		return nil, errors.New("untrusted signer")
	}
	input := append(append(append([]byte{}, parts[0]...), '.'), parts[1]...)
	if !ed25519.Verify(c.cert.PublicKey.(ed25519.PublicKey), input, sig) {
		return nil, errors.New("bad signature")
	}
	if _, err := parseStrict(payload); err != nil {
		return nil, err
	}
	var a announcement
	if err := json.Unmarshal(payload, &a); err != nil || a.Sender != c.agency {
		return nil, errors.New("announcement sender is not its signer")
	}
	return payload, nil
}

func verifyV2(in input, payload []byte, cty string, signers []*signer) *verdict {
	// ENC-03
	h, l, e, ok := v2Parts(payload)
	if !ok && mutated != "ENC-03" {
		return reject("ENC-03", "malformed", `payload is not {"header":H,"label":L,"enc":"E"}`)
	}
	if !ok {
		// The mutant of ENC-03 is encoding/json's lax reading (members in any
		// order, extra members ignored), not none.
		var lax struct {
			Header, Label json.RawMessage
			Enc           string
		}
		if json.Unmarshal(payload, &lax) != nil {
			return reject("ENV-24", "malformed", "payload is not JSON")
		}
		h, l = lax.Header, lax.Label
		if e, _ = base64.RawURLEncoding.DecodeString(lax.Enc); len(e) < 45 {
			return reject("ENV-24", "malformed", "enc is too short")
		}
	}
	// ENV-24 to ENV-33 and ENV-41 to ENV-44 on header and label, before any key
	// (SPEC §11): a bad header is refused for itself, whether or not it decrypts.
	hl := append(append(append(append([]byte(`{"header":`), h...), `,"label":`...), l...), '}')
	if v := verifyPayload(in, hl, cty, signers, true); v != nil {
		return v
	}
	d := in.decrypt
	if d == nil {
		return reject("ENC-05", "undecryptable", "encrypted body and no decryption key")
	}
	// ENC-09 before any key is looked for (§11.4).
	if v := needToKnow(d, h, l); v != nil {
		return v
	}
	var hdr struct {
		MessageID string `json:"message_id"`
		Sender    string `json:"sender"`
	}
	if err := json.Unmarshal(h, &hdr); err != nil {
		return reject("ENC-03", "malformed", "header: %v", err)
	}
	mid, ok := uuidBytes(hdr.MessageID)
	if !ok {
		return reject("ENV-27", "schema-invalid", "message_id is not a UUID")
	}
	// ENC-05: the CWK E names, announced by the sender to this agency.
	var found *cwk
	notMine := false
	for _, a := range d.Announcements {
		compact, err := base64.StdEncoding.DecodeString(a)
		if err != nil {
			continue
		}
		ap, err := verifyAnnouncement(compact, in.trust, in.now)
		if err != nil {
			continue // an announcement that does not verify is never used
		}
		for _, k := range d.Keys {
			seed, err := base64.StdEncoding.DecodeString(k)
			if err != nil {
				continue
			}
			c, err := openAnnouncement(ap, d.Agency, seed)
			if c == nil || c.sender != hdr.Sender || !bytes.Equal(c.id, e[1:17]) {
				continue
			}
			if errors.Is(err, errNotARecipient) {
				notMine = true
			} else if err == nil {
				found = c
			}
		}
	}
	if found == nil {
		if notMine {
			if v := reject("ENC-05", "not-a-recipient", "the CWK was not announced to %s", d.Agency); v != nil {
				return v
			}
		}
		// No key to open it with, whatever -mutate says: never a nil CWK below.
		return &verdict{reason: "undecryptable", rule: "ENC-05", detail: "no opened CWK for this body"}
	}
	// ENC-06: entitled ∩ need_to_know (when the label has one) ∪ {sender}.
	need, listed := labelNeedToKnow(l)
	for _, a := range found.agencies {
		if a != hdr.Sender && (!contains(d.Entitled, a) || listed && !contains(need, a)) {
			if v := reject("ENC-06", "releasability-violation", "the CWK is shared with %s, not entitled", a); v != nil {
				return v
			}
		}
	}
	// ENC-07
	plain, err := openBody(found, mid, h, l, e)
	if err != nil {
		return reject("ENC-07", "undecryptable", "the body does not open")
	}
	// ENC-08: the body rules on {header, label, body}.
	full := append(append(append(append(append([]byte(`{"header":`), h...), `,"label":`...), l...), `,"body":`...), plain...)
	full = append(full, '}')
	if mutated != "ENC-08" {
		if v := verifyPayload(in, full, cty, signers, false); v != nil {
			return v
		}
	}
	if in.plaintext != nil {
		*in.plaintext = plain
	}
	return nil
}

func uuidBytes(s string) ([]byte, bool) {
	if len(s) != 36 {
		return nil, false
	}
	b := hexBytesChecked(strings.ReplaceAll(s, "-", ""))
	return b, len(b) == 16
}

func hexBytesChecked(s string) []byte {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return nil
		}
	}
	if len(s)%2 != 0 {
		return nil
	}
	return hexBytes(s)
}

// labelNeedToKnow is the label's need_to_know list and whether it has one.
func labelNeedToKnow(label []byte) ([]string, bool) {
	var l struct {
		NeedToKnow *[]string `json:"need_to_know"`
	}
	if json.Unmarshal(label, &l) != nil || l.NeedToKnow == nil {
		return nil, false
	}
	return *l.NeedToKnow, true
}

// needToKnow is ENC-09: with a need-to-know list in the label, the reading agency
// is listed or is the sender; otherwise not-a-recipient.
func needToKnow(d *decryptRequest, header, label []byte) *verdict {
	need, listed := labelNeedToKnow(label)
	if !listed {
		return nil
	}
	var h struct {
		Sender string `json:"sender"`
	}
	_ = json.Unmarshal(header, &h)
	if d.Agency == h.Sender || contains(need, d.Agency) {
		return nil
	}
	return reject("ENC-09", "not-a-recipient", "need_to_know leaves out %s", d.Agency)
}
