package main

// Envelope v2 decryption (SPEC §11.2, §11.3), standard library only: crypto/hpke
// (MLKEM768X25519, HKDF-SHA256, AES-256-GCM) opens a CWK copy, crypto/hkdf derives
// the content key, crypto/aes + crypto/cipher GCM open the body.
//
// Not wired into verify() yet: the conformance "decrypt" member, ENC-01 and ENC-02
// in the record and protected-header checks, and the announcement's signature check
// (verifyCompact) are still to do. These functions take bytes whose signature the
// caller has already verified.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
)

var (
	hpkeKEM  = hpke.MLKEM768X25519()
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES256GCM()
)

// cwk is an opened content-wrapping key (§11.3).
type cwk struct {
	id       []byte
	sender   string
	agencies []string
	key      []byte
}

// errNotARecipient: the announcement leaves the agency out (ENC-05).
var errNotARecipient = errors.New("not a recipient")

// v2Parts splits a v2 payload text into H, L and E exactly as ENC-03 reads it:
// {"header": H ,"label": L ,"enc":" E "}, H and L strict JSON values, E canonical
// base64url of 45 to 1048621 bytes whose first byte is 0x01.
func v2Parts(payload []byte) (h, l, e []byte, ok bool) {
	const pre, mid, enc = `{"header":`, `,"label":`, `,"enc":"`
	if !bytes.HasPrefix(payload, []byte(pre)) {
		return nil, nil, nil, false
	}
	p := &parser{b: payload, i: len(pre)}
	start := p.i
	if _, err := p.value(0); err != nil {
		return nil, nil, nil, false
	}
	h = payload[start:p.i]
	if !bytes.HasPrefix(payload[p.i:], []byte(mid)) {
		return nil, nil, nil, false
	}
	p.i += len(mid)
	start = p.i
	if _, err := p.value(0); err != nil {
		return nil, nil, nil, false
	}
	l = payload[start:p.i]
	rest := payload[p.i:]
	if !bytes.HasPrefix(rest, []byte(enc)) || !bytes.HasSuffix(rest, []byte(`"}`)) ||
		len(rest) < len(enc)+2 {
		return nil, nil, nil, false
	}
	e, ok = decodeCanonical(string(rest[len(enc) : len(rest)-2]))
	if !ok || len(e) < 45 || len(e) > 1048621 || e[0] != 1 {
		return nil, nil, nil, false
	}
	if !utf8JSON(h) || !utf8JSON(l) {
		return nil, nil, nil, false
	}
	return h, l, e, true
}

func utf8JSON(b []byte) bool {
	_, err := parseStrict(b)
	return err == nil
}

// announcement is a verified key announcement's payload (§11.3).
type announcement struct {
	V          int    `json:"v"`
	Sender     string `json:"sender"`
	CwkID      string `json:"cwk_id"`
	IssuedAt   string `json:"issued_at"`
	NotAfter   string `json:"not_after"`
	Recipients []struct {
		Agency string `json:"agency"`
		Ekid   string `json:"ekid"`
		Sealed string `json:"sealed"`
	} `json:"recipients"`
}

// cwkInfo is the HPKE info of the copy sealed to key "to": the prefix, then the
// bound members as JSON with sorted keys and no whitespace.
func cwkInfo(a *announcement, to string) ([]byte, error) {
	pairs := make([][2]string, len(a.Recipients))
	for i, r := range a.Recipients {
		pairs[i] = [2]string{r.Agency, r.Ekid}
	}
	// encoding/json writes map keys sorted and the values here are ASCII.
	bound, err := json.Marshal(map[string]any{
		"cwk_id": a.CwkID, "not_after": a.NotAfter, "recipients": pairs,
		"sender": a.Sender, "to": to,
	})
	if err != nil {
		return nil, err
	}
	return append([]byte("accord/cwk/v1\x00"), bound...), nil
}

// openAnnouncement opens the copy of a verified announcement sealed to agency
// with the X-Wing key of seed.
func openAnnouncement(payload []byte, agency string, seed []byte) (*cwk, error) {
	var a announcement
	if err := json.Unmarshal(payload, &a); err != nil || a.V != 1 {
		return nil, errors.New("announcement is not v1")
	}
	id, ok := decodeCanonical(a.CwkID)
	if !ok || len(id) != 16 {
		return nil, errors.New("cwk_id is not 16 bytes")
	}
	out := &cwk{id: id, sender: a.Sender}
	for _, r := range a.Recipients {
		out.agencies = append(out.agencies, r.Agency)
	}
	for _, r := range a.Recipients {
		if r.Agency != agency {
			continue
		}
		k, err := hpkeKEM.NewPrivateKey(seed)
		if err != nil {
			return nil, err
		}
		sealed, ok := decodeCanonical(r.Sealed)
		if !ok || len(sealed) != 1168 {
			return nil, errors.New("sealed copy is not 1168 bytes")
		}
		info, err := cwkInfo(&a, r.Ekid)
		if err != nil {
			return nil, err
		}
		key, err := hpke.Open(k, hpkeKDF, hpkeAEAD, info, sealed)
		if err != nil || len(key) != 32 {
			return nil, errors.New("the sealed copy does not open")
		}
		out.key = key
		return out, nil
	}
	return out, errNotARecipient
}

// aadOf is SHA-256 over a prefix and the length-framed exact H and L bytes.
func aadOf(h, l []byte) []byte {
	d := sha256.New()
	d.Write([]byte("accord/aad/v1\x00"))
	for _, part := range [][]byte{h, l} {
		d.Write(binary.BigEndian.AppendUint32(nil, uint32(len(part))))
		d.Write(part)
	}
	return d.Sum(nil)
}

// openBody opens E (0x01 | cwk_id 16 | nonce 12 | ciphertext+tag) for message id
// mid (16 bytes): ENC-07.
func openBody(c *cwk, mid, h, l, e []byte) ([]byte, error) {
	if len(e) < 45 || e[0] != 1 || !bytes.Equal(e[1:17], c.id) {
		return nil, errors.New("body is under another CWK")
	}
	key, err := hkdf.Expand(sha256.New, c.key, "accord/cek/v1\x00"+string(c.id)+string(mid), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, e[17:29], e[29:], aadOf(h, l))
}
