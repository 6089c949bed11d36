// Command hpke-go is a partner's view of accord confidentiality, in Go's standard
// library only (crypto/hpke, crypto/hkdf, crypto/aes, crypto/cipher): it opens a
// content-wrapping key (CWK) that accord sealed in Python, derives the message's
// content key and decrypts the body; and it seals a CWK for Python to open.
//
// One JSON request on stdin, one JSON answer on stdout; byte strings are hex.
//
//	{"op":"public","seed":…}                     -> {"public_key":…}
//	{"op":"open","seed":…,"info":…,"sealed":…,
//	 "cwk_id":…,"message_id":…,"header":…,"label":…,"body":…}
//	                                             -> {"cwk":…,"plaintext":…}
//	{"op":"seal","public_key":…,"info":…,"plaintext":…} -> {"sealed":…}
//	{"op":"vectors","path":"testdata/vectors.json"}  -> {"checked":"N"}
//
// The seed is the X-Wing private key (32 bytes), as MLKEM768X25519().NewPrivateKey
// takes it.
package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

type request struct {
	Op        string `json:"op"`
	Seed      string `json:"seed"`
	PublicKey string `json:"public_key"`
	Info      string `json:"info"`
	Sealed    string `json:"sealed"`
	Plaintext string `json:"plaintext"`
	CwkID     string `json:"cwk_id"`
	MessageID string `json:"message_id"`
	Header    string `json:"header"`
	Label     string `json:"label"`
	Body      string `json:"body"`
	Path      string `json:"path"`
}

// vectors is testdata/vectors.json (written by python -m accord.confidentiality.vectors).
type vectors struct {
	Recipient struct {
		Seed      string `json:"seed"`
		PublicKey string `json:"public_key"`
	} `json:"recipient"`
	Cwk struct {
		CwkID  string `json:"cwk_id"`
		Info   string `json:"info"`
		Sealed string `json:"sealed"`
		Key    string `json:"key"`
	} `json:"cwk"`
	Messages []struct {
		Name      string `json:"name"`
		MessageID string `json:"message_id"`
		Header    string `json:"header"`
		Label     string `json:"label"`
		Body      string `json:"body"`
		Plaintext string `json:"plaintext"`
	} `json:"messages"`
}

// checkVectors opens the sealed CWK and decrypts every body, comparing each result.
func checkVectors(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, err
	}
	k, err := kem.NewPrivateKey(unhex(v.Recipient.Seed))
	if err != nil {
		return 0, err
	}
	if hex.EncodeToString(k.PublicKey().Bytes()) != v.Recipient.PublicKey {
		return 0, errors.New("public key differs")
	}
	cwk, err := hpke.Open(k, kdf, aead, unhex(v.Cwk.Info), unhex(v.Cwk.Sealed))
	if err != nil {
		return 0, err
	}
	if hex.EncodeToString(cwk) != v.Cwk.Key {
		return 0, errors.New("CWK differs")
	}
	for _, m := range v.Messages {
		plain, err := openBody(cwk, unhex(v.Cwk.CwkID), unhex(m.MessageID),
			unhex(m.Header), unhex(m.Label), unhex(m.Body))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", m.Name, err)
		}
		if hex.EncodeToString(plain) != m.Plaintext {
			return 0, fmt.Errorf("%s: plaintext differs", m.Name)
		}
	}
	return len(v.Messages), nil
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail(err)
	}
	return b
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(2)
}

var (
	kem  = hpke.MLKEM768X25519()
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES256GCM()
)

// aad is accord's body AAD: SHA-256 over a label and the length-framed header and label.
func aad(header, label []byte) []byte {
	h := sha256.New()
	h.Write([]byte("accord/aad/v1\x00"))
	for _, part := range [][]byte{header, label} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(part))))
		h.Write(part)
	}
	return h.Sum(nil)
}

// openBody derives the content key from the CWK and decrypts an accord body:
// 0x01 || cwk_id (16) || nonce (12) || ciphertext || tag (16).
func openBody(cwk, cwkID, messageID, header, label, body []byte) ([]byte, error) {
	if len(body) < 45 || body[0] != 1 || !bytes.Equal(body[1:17], cwkID) {
		return nil, errors.New("not an accord v1 body under this CWK")
	}
	info := append([]byte("accord/cek/v1\x00"), cwkID...)
	info = append(info, messageID...)
	key, err := hkdf.Expand(sha256.New, cwk, string(info), 32)
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
	return gcm.Open(nil, body[17:29], body[29:], aad(header, label))
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fail(err)
	}
	out := map[string]string{}
	switch req.Op {
	case "public":
		k, err := kem.NewPrivateKey(unhex(req.Seed))
		if err != nil {
			fail(err)
		}
		out["public_key"] = hex.EncodeToString(k.PublicKey().Bytes())
	case "open":
		k, err := kem.NewPrivateKey(unhex(req.Seed))
		if err != nil {
			fail(err)
		}
		cwk, err := hpke.Open(k, kdf, aead, unhex(req.Info), unhex(req.Sealed))
		if err != nil {
			fail(err)
		}
		out["cwk"] = hex.EncodeToString(cwk)
		if req.Body != "" {
			plain, err := openBody(cwk, unhex(req.CwkID), unhex(req.MessageID),
				unhex(req.Header), unhex(req.Label), unhex(req.Body))
			if err != nil {
				fail(err)
			}
			out["plaintext"] = hex.EncodeToString(plain)
		}
	case "seal":
		pk, err := kem.NewPublicKey(unhex(req.PublicKey))
		if err != nil {
			fail(err)
		}
		sealed, err := hpke.Seal(pk, kdf, aead, unhex(req.Info), unhex(req.Plaintext))
		if err != nil {
			fail(err)
		}
		out["sealed"] = hex.EncodeToString(sealed)
	case "vectors":
		n, err := checkVectors(req.Path)
		if err != nil {
			fail(err)
		}
		out["checked"] = fmt.Sprint(n)
	default:
		fail(fmt.Errorf("unknown op %q", req.Op))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}
