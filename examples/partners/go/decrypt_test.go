package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const v2Dir = "../../../schemas/vectors/v2"

type v2Manifest struct {
	DecryptionKeys map[string]string `json:"decryption_keys"`
	Vectors        []struct {
		ID              string `json:"id"`
		File            string `json:"file"`
		Expected        string `json:"expected"`
		PlaintextSHA256 string `json:"plaintext_sha256"`
		Decrypt         struct {
			Agency        string   `json:"agency"`
			Announcements []string `json:"announcements"`
			Entitled      []string `json:"entitled"`
		} `json:"decrypt"`
	} `json:"vectors"`
}

// opened runs the decrypt layer alone over a v2 vector (the signatures are the
// envelope verifier's business and are not checked here).
func opened(t *testing.T, m *v2Manifest, i int) (*cwk, []byte, error) {
	t.Helper()
	v := m.Vectors[i]
	raw, err := os.ReadFile(filepath.Join(v2Dir, v.File))
	if err != nil {
		t.Fatal(err)
	}
	var record struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(raw, &record); err != nil {
		t.Fatal(err)
	}
	h, l, e, ok := v2Parts([]byte(record.Payload))
	if !ok {
		return nil, nil, errors.New("ENC-03")
	}
	var header struct {
		MessageID string `json:"message_id"`
	}
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	mid, err := hex.DecodeString(strings.ReplaceAll(header.MessageID, "-", ""))
	if err != nil || len(mid) != 16 {
		t.Fatalf("message_id %q", header.MessageID)
	}
	seed, err := base64.StdEncoding.DecodeString(m.DecryptionKeys[v.Decrypt.Agency])
	if err != nil {
		t.Fatal(err)
	}
	compact, err := os.ReadFile(filepath.Join(v2Dir, v.Decrypt.Announcements[0]))
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.Split(bytes.TrimSpace(compact), []byte("."))
	payload, ok := decodeCanonical(string(parts[1]))
	if len(parts) != 3 || !ok {
		t.Fatal("announcement is not compact JWS")
	}
	c, err := openAnnouncement(payload, v.Decrypt.Agency, seed)
	if err != nil {
		return c, nil, err
	}
	plain, err := openBody(c, mid, h, l, e)
	return c, plain, err
}

func TestV2DecryptLayer(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(v2Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m v2Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, v := range m.Vectors {
		switch {
		case v.Expected == "valid":
			_, plain, err := opened(t, &m, i)
			if err != nil {
				t.Fatalf("%s: %v", v.ID, err)
			}
			sum := sha256.Sum256(plain)
			if hex.EncodeToString(sum[:]) != v.PlaintextSHA256 {
				t.Errorf("%s: plaintext_sha256 differs", v.ID)
			}
		case strings.HasPrefix(v.ID, "reject/ENC-03-"):
			if _, _, err := opened(t, &m, i); err == nil || err.Error() != "ENC-03" {
				t.Errorf("%s: ENC-03 payload read: %v", v.ID, err)
			}
		case strings.HasPrefix(v.ID, "reject/ENC-05-"):
			if _, _, err := opened(t, &m, i); !errors.Is(err, errNotARecipient) {
				t.Errorf("%s: want not a recipient, got %v", v.ID, err)
			}
		case strings.HasPrefix(v.ID, "reject/ENC-06-"):
			c, _, err := opened(t, &m, i)
			if err != nil {
				t.Fatalf("%s: %v", v.ID, err)
			}
			need, listed := labelNeedToKnow(labelOf(t, v.File))
			extra := 0
			for _, a := range c.agencies {
				if !contains(v.Decrypt.Entitled, a) || listed && !contains(need, a) && a != c.sender {
					extra++
				}
			}
			if extra == 0 {
				t.Errorf("%s: CWK shared with no agency beyond the entitled", v.ID)
			}
		case strings.HasPrefix(v.ID, "reject/ENC-07-"):
			if _, _, err := opened(t, &m, i); err == nil {
				t.Errorf("%s: a body under another AAD opened", v.ID)
			}
		default:
			continue
		}
		seen++
	}
	if seen != 9 { // 4 valid (one batched, one need-to-know), ENC-03, ENC-05, ENC-06 (2), ENC-07
		t.Errorf("checked %d vectors, want 9", seen)
	}
}

// labelOf is the exact label text L of a v2 vector's payload.
func labelOf(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(v2Dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var record struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(raw, &record); err != nil {
		t.Fatal(err)
	}
	_, l, _, ok := v2Parts([]byte(record.Payload))
	if !ok {
		t.Fatalf("%s: not a v2 payload", file)
	}
	return l
}
