// Command accord-partner-verifier is a reference partner verifier for accord
// envelope v1, written from schemas/SPEC.md alone. It speaks the conformance
// line protocol of schemas/CONFORMANCE.md: one JSON request per line on stdin,
// one verdict per line on stdout, flushed after each line.
//
//	accord-partner-verifier [-schemas schemas/v1] [-policy schemas/policy/accord-jpn-aus-2007.json]
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// request is one line of the protocol. It comes from the conformance runner,
// not from the network, so encoding/json is fine here; unknown members are
// ignored as CONFORMANCE.md requires.
type request struct {
	ID       string   `json:"id"`
	Envelope string   `json:"envelope"`
	Topic    string   `json:"topic"`
	Now      string   `json:"now"`
	MaxBytes int      `json:"max_bytes"`
	Bundle   string   `json:"bundle"`
	Roots    []string `json:"roots"`
	// Decrypt is protocol v2's member (envelope v2): the reader's keys.
	Decrypt *decryptRequest `json:"decrypt"`
}

type response struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// PlaintextSHA256: SHA-256 of an accepted v2 record's decrypted body, hex.
	PlaintextSHA256 string `json:"plaintext_sha256,omitempty"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error [config]: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	schemaDir := flag.String("schemas", "schemas/v1", "directory of the v1 JSON Schemas")
	policyPath := flag.String("policy", "schemas/policy/accord-jpn-aus-2007.json", "label policy file")
	flag.StringVar(&mutated, "mutate", "", "switch off one rule `ENV-nn`, BAT-nn or ENC-nn (mutation testing only; never in production)")
	flag.Parse()
	sc, err := loadSchemas(*schemaDir, *policyPath)
	if err != nil {
		fail("cannot load schemas: %v (hint: run from the repository root or pass -schemas and -policy)", err)
	}
	trusts := map[string]*trust{} // by bundle path and pinned roots
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 8<<20) // a 1 MiB record is ~1.4 MiB of base64
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fail("request is not JSON: %v", err)
		}
		record, err := base64.StdEncoding.DecodeString(req.Envelope)
		if err != nil {
			fail("request %s: envelope is not base64: %v", req.ID, err)
		}
		now, err := time.Parse(time.RFC3339Nano, req.Now)
		if err != nil {
			fail("request %s: now: %v", req.ID, err)
		}
		key := req.Bundle + "\x00" + strings.Join(req.Roots, ",")
		tr := trusts[key]
		if tr == nil {
			if tr, err = loadTrust(req.Bundle, req.Roots); err != nil {
				fail("%v (hint: the bundle and the pinned roots do not agree)", err)
			}
			trusts[key] = tr
		}
		maxBytes := req.MaxBytes
		if maxBytes == 0 {
			maxBytes = 1 << 20
		}
		var plain []byte
		v := safeVerify(input{record: record, topic: req.Topic, now: now, maxBytes: maxBytes, trust: tr, schemas: sc,
			decrypt: req.Decrypt, plaintext: &plain})
		resp := response{ID: req.ID, Verdict: "accept"}
		if v == nil && plain != nil {
			sum := sha256.Sum256(plain)
			resp.PlaintextSHA256 = hex.EncodeToString(sum[:])
		}
		if v != nil {
			resp = response{ID: req.ID, Verdict: "reject", Reason: v.reason, Rule: v.rule, Detail: v.detail}
		}
		line, _ := json.Marshal(resp)
		out.Write(line)
		out.WriteByte('\n')
		out.Flush() // the runner waits for each line
	}
	if err := in.Err(); err != nil {
		fail("reading stdin: %v", err)
	}
}

// safeVerify fails closed: a bug that panics gives a reject, never a crash
// or an accept, and says so on stderr.
func safeVerify(in input) (v *verdict) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "internal error: %v\n", r)
			v = &verdict{reason: "malformed", rule: "internal", detail: fmt.Sprint(r)}
		}
	}()
	return verify(in)
}
