package main

// The payload rules, ENV-24 to ENV-44 (SPEC §5.2, tables in §6).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaBase = "https://accord.example/schemas/v1/"

// messageTypes is SPEC §6.1.
var messageTypes = []string{
	"accord.strategic-assessment.v1", "accord.information-report.v1",
	"accord.exercise-notice.v1", "accord.personnel-exchange-notice.v1",
	"accord.coordinated-activity-notice.v1", "accord.action-plan-update.v1",
	"accord.dialogue-record.v1", "accord.receipt.v1", "accord.supersede.v1",
	"accord.retract.v1",
}

// areaBound is SPEC §6.2 (short type name -> the one allowed area).
var areaBound = map[string]string{
	"exercise-notice":             "joint-exercises",
	"personnel-exchange-notice":   "personnel-exchange",
	"coordinated-activity-notice": "coordinated-activities",
	"action-plan-update":          "action-plan",
	"dialogue-record":             "dialogue",
}

var scopeMembers = map[string][]string{
	"bilateral":  {"JPN", "AUS"},
	"trilateral": {"JPN", "AUS", "USA"},
}

var nsPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// policy is the part of schemas/policy/<name>.json that verification uses
// (§6.5); national markings are illustrative and take no part.
type policy struct {
	Policy    string   `json:"policy"`
	Countries []string `json:"countries"`
	Levels    []struct {
		Name string `json:"name"`
	} `json:"levels"`
	Caveats []struct {
		Name string `json:"name"`
	} `json:"caveats"`
}

type schemas struct {
	payload *jsonschema.Schema
	header  *jsonschema.Schema
	label   *jsonschema.Schema            // alone: a v2 payload before decryption
	body    map[string]*jsonschema.Schema // by message type
	policy  policy
}

// loadSchemas compiles every schema of dir, registered by its $id (the $ids
// are identifiers and are never fetched), and reads the label policy.
//
// PITFALL (SPEC §9 "Format assertion is off by default"): jsonschema v6 treats
// `format` as an annotation; the schemas express every format as a `pattern`,
// and format assertion is deliberately NOT turned on.
func loadSchemas(dir, policyPath string) (*schemas, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	files, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no schemas in %s", dir)
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if err := c.AddResource(schemaBase+filepath.Base(f), doc); err != nil {
			return nil, err
		}
	}
	s := &schemas{body: map[string]*jsonschema.Schema{}}
	if s.payload, err = c.Compile(schemaBase + "accord.payload.v1.schema.json"); err != nil {
		return nil, err
	}
	if s.header, err = c.Compile(schemaBase + "accord.header.v1.schema.json"); err != nil {
		return nil, err
	}
	if s.label, err = c.Compile(schemaBase + "accord.label.v1.schema.json"); err != nil {
		return nil, err
	}
	for _, t := range messageTypes {
		if s.body[t], err = c.Compile(schemaBase + t + ".schema.json"); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(policyPath)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &s.policy); err != nil {
		return nil, fmt.Errorf("%s: %w", policyPath, err)
	}
	return s, nil
}

// withType is a shallow copy of the payload whose header.type is cty, so that
// accord.payload.v1 picks the body schema of cty's type (ENV-27); doc itself is
// left as sent. Anything but an object with an object header is returned as is.
func withType(doc any, cty string) any {
	obj, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	header, ok := obj["header"].(map[string]any)
	if !ok {
		return doc
	}
	h := make(map[string]any, len(header))
	for k, v := range header {
		h[k] = v
	}
	h["type"] = cty
	o := make(map[string]any, len(obj))
	for k, v := range obj {
		o[k] = v
	}
	o["header"] = h
	return o
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// labelValuesKnown is ENV-26: only values of the right JSON type are looked
// at; a value of the wrong type is ENV-27's. Levels and caveats belong to a
// policy: they are judged only when label.policy is a string naming a known
// policy (SPEC §6.5); with no policy, or a policy that is not a string, there is
// nothing to judge them against and the label fails ENV-27 (schema-invalid).
func (s *schemas) labelValuesKnown(doc any) *verdict {
	obj, _ := doc.(map[string]any)
	label, _ := obj["label"].(map[string]any)
	if label == nil {
		return nil
	}
	p, hasPolicy := label["policy"].(string)
	if hasPolicy && p != s.policy.Policy {
		if v := reject("ENV-26", "unknown-label-value", "unknown policy %q", p); v != nil {
			return v
		}
	}
	policyKnown := hasPolicy && p == s.policy.Policy
	if c, ok := label["classification"].(string); ok && policyKnown {
		known := false
		for _, l := range s.policy.Levels {
			known = known || l.Name == c
		}
		if !known {
			if v := reject("ENV-26", "unknown-label-value", "unknown classification %q", c); v != nil {
				return v
			}
		}
	}
	rel, _ := label["releasable_to"].([]any)
	for _, e := range rel {
		if c, ok := e.(string); ok && !contains(s.policy.Countries, c) {
			if v := reject("ENV-26", "unknown-label-value", "unknown country %q", c); v != nil {
				return v
			}
		}
	}
	cav, _ := label["caveats"].([]any)
	for _, e := range cav {
		if c, ok := e.(string); ok && policyKnown {
			known := false
			for _, k := range s.policy.Caveats {
				known = known || k.Name == c
			}
			if !known {
				if v := reject("ENV-26", "unknown-label-value", "unknown caveat %q", c); v != nil {
					return v
				}
			}
		}
	}
	return nil
}

// parseTime reads a §3.3 date-time (the schema pattern has already held).
func parseTime(v any) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v.(string))
	return t
}

func parseDate(v any) time.Time {
	t, _ := time.Parse(time.DateOnly, v.(string))
	return t
}

func country(agency string) string { return agency[:3] }

// verifyPayload is ENV-24 to ENV-44 on a payload. sealed: a v2 payload before
// decryption, {"header":H,"label":L}, so the body rules (ENV-34 to ENV-40 and the
// body's part of ENV-27 and ENV-28) wait for ENC-08 (SPEC §11).
func verifyPayload(in input, raw []byte, cty string, signers []*signer, sealed bool) *verdict {
	sc := in.schemas
	// ENV-24
	doc, err := parseStrict(raw)
	if err != nil {
		if v := reject("ENV-24", "malformed", "payload is not strict JSON"); v != nil {
			return v
		}
	}
	// ENV-25: a string cty that names no known type is a schema question.
	if !contains(messageTypes, cty) {
		if v := reject("ENV-25", "schema-invalid", "unknown message type %q", cty); v != nil {
			return v
		}
	}
	// ENV-26
	if v := sc.labelValuesKnown(doc.value); v != nil {
		return v
	}
	// ENV-27: accord.payload.v1 with its allOf branch chosen by cty, not by
	// header.type (SPEC ENV-27): the payload is validated with header.type read
	// as cty, and the header as sent against accord.header.v1 (so header.type is
	// a known type). A header.type that is another known type passes here and
	// fails ENV-29. Integer literals only (no schema of v1 has a non-integer
	// number, and JSON Schema cannot see `1.0` or `1e0`, which it calls integers).
	if !sealed {
		if err := sc.payload.Validate(withType(doc.value, cty)); err != nil {
			if v := reject("ENV-27", "schema-invalid", "payload: %v", oneLine(err)); v != nil {
				return v
			}
		}
	} else if err := sc.label.Validate(doc.value.(map[string]any)["label"]); err != nil {
		// v2 before decryption (SPEC §11, ENC-03 made the layout): the label alone
		// here, the header below; the body's schema is ENC-08's.
		if v := reject("ENV-27", "schema-invalid", "label: %v", oneLine(err)); v != nil {
			return v
		}
	}
	p := doc.value.(map[string]any)
	if err := sc.header.Validate(p["header"]); err != nil {
		if v := reject("ENV-27", "schema-invalid", "header: %v", oneLine(err)); v != nil {
			return v
		}
	}
	if doc.nonInteger {
		if v := reject("ENV-27", "schema-invalid", "a number that is not an integer literal"); v != nil {
			return v
		}
	}
	header := p["header"].(map[string]any)
	label := p["label"].(map[string]any)
	body, _ := p["body"].(map[string]any) // nil when sealed
	short := strings.TrimSuffix(strings.TrimPrefix(cty, "accord."), ".v1")
	// ENV-28 (§6.4)
	if v := invariants(short, label, body); v != nil {
		return v
	}
	// ENV-29
	if header["type"] != cty {
		if v := reject("ENV-29", "schema-invalid", "header.type %v is not cty %s", header["type"], cty); v != nil {
			return v
		}
	}
	issued := parseTime(header["issued_at"])
	// ENV-30: at most 300 s after now, inclusive.
	if issued.Sub(in.now) > 300*time.Second {
		if v := reject("ENV-30", "future-dated", "issued_at %s more than 300 s after now", header["issued_at"]); v != nil {
			return v
		}
	}
	// ENV-31 (each)
	for i, s := range signers {
		if !validAt(s.cert.cert, issued) || !validAt(s.root.cert, issued) {
			if v := reject("ENV-31", "expired-cert", "signature %d: certificate or root not valid at issued_at", i+1); v != nil {
				return v
			}
		}
	}
	sender := header["sender"].(string)
	// ENV-32
	if sender != signers[0].cert.agency {
		if v := reject("ENV-32", "sender-mismatch", "header.sender %s, signer 1 is %s", sender, signers[0].cert.agency); v != nil {
			return v
		}
	}
	scope := header["scope"].(string)
	members := scopeMembers[scope]
	// ENV-33 (each)
	for i, s := range signers {
		if !contains(members, s.cert.country) {
			if v := reject("ENV-33", "scope-violation", "signature %d: %s outside %s", i+1, s.cert.country, scope); v != nil {
				return v
			}
		}
	}
	if sealed {
		return labelAndTopic(in, header, label, sender, scope, members, short)
	}
	// ENV-34
	if want, bound := areaBound[short]; bound && header["area"] != want {
		if v := reject("ENV-34", "schema-invalid", "%s may not be sent in area %v", short, header["area"]); v != nil {
			return v
		}
	}
	// ENV-35
	if short == "dialogue-record" && body["kind"] == "trilateral-strategic-dialogue" && scope != "trilateral" {
		if v := reject("ENV-35", "scope-violation", "a trilateral strategic dialogue in scope %s", scope); v != nil {
			return v
		}
	}
	// ENV-36 (§6.3)
	for _, c := range participantCountries(short, body) {
		if !contains(members, c) {
			if v := reject("ENV-36", "scope-violation", "participant country %s outside %s", c, scope); v != nil {
				return v
			}
		}
	}
	// ENV-37
	if (short == "supersede" || short == "retract") && body["target_sender"] != sender {
		if v := reject("ENV-37", "not-originator", "target_sender %v is not the sender", body["target_sender"]); v != nil {
			return v
		}
	}
	if short == "receipt" {
		// ENV-38
		if body["receiving_agency"] != sender {
			if v := reject("ENV-38", "sender-mismatch", "receiving_agency %v is not the sender", body["receiving_agency"]); v != nil {
				return v
			}
		}
		acks := body["acknowledgements"].([]any)
		// ENV-39
		for _, a := range acks {
			if s := a.(map[string]any)["sender"].(string); !contains(members, country(s)) {
				if v := reject("ENV-39", "scope-violation", "acknowledged sender %s outside %s", s, scope); v != nil {
					return v
				}
			}
		}
		// ENV-40
		if body["status"] == "published" {
			for _, a := range acks {
				if s := a.(map[string]any)["sender"].(string); s != sender {
					if v := reject("ENV-40", "sender-mismatch", "published receipt for %s's message", s); v != nil {
						return v
					}
				}
			}
		}
	}
	return labelAndTopic(in, header, label, sender, scope, members, short)
}

// labelAndTopic is ENV-41 to ENV-44.
func labelAndTopic(in input, header, label map[string]any, sender, scope string, members []string, short string) *verdict {
	// ENV-41: the sets are equal (uniqueItems already held).
	rel := label["releasable_to"].([]any)
	same := len(rel) == len(members)
	for _, r := range rel {
		same = same && contains(members, r.(string))
	}
	if !same {
		if v := reject("ENV-41", "releasability-violation", "releasable_to %v is not scope %s", rel, scope); v != nil {
			return v
		}
	}
	// ENV-41, need-to-know (§11.4): every listed agency is of a member country.
	need, _ := label["need_to_know"].([]any)
	for _, a := range need {
		if !contains(members, country(a.(string))) {
			if v := reject("ENV-41", "releasability-violation", "need_to_know names %v, outside scope %s", a, scope); v != nil {
				return v
			}
		}
	}
	// ENV-42
	if label["originator"] != sender {
		if v := reject("ENV-42", "sender-mismatch", "label.originator %v is not the sender", label["originator"]); v != nil {
			return v
		}
	}
	// ENV-43 (§6.6)
	topic := header["topic"].(string)
	ns := "accord"
	if before, _, found := strings.Cut(topic, "."); found && nsPattern.MatchString(before) {
		ns = before
	}
	expected := ns + "." + scope + "." + header["area"].(string)
	if short == "receipt" {
		expected = ns + ".receipts"
	}
	if topic != expected {
		if v := reject("ENV-43", "topic-mismatch", "header.topic %s, expected %s", topic, expected); v != nil {
			return v
		}
	}
	// ENV-44
	if topic != in.topic {
		if v := reject("ENV-44", "topic-mismatch", "header.topic %s, read from %s", topic, in.topic); v != nil {
			return v
		}
	}
	return nil
}

func invariants(short string, label, body map[string]any) *verdict {
	// need_to_know in ascending order (agency ids are ASCII: byte order).
	need, _ := label["need_to_know"].([]any)
	for i := 1; i < len(need); i++ {
		if need[i-1].(string) >= need[i].(string) {
			if v := reject("ENV-28", "schema-invalid", "need_to_know is not in ascending order"); v != nil {
				return v
			}
		}
	}
	// review_on is not before created_at's calendar date in its own offset:
	// compare the date text (YYYY-MM-DD sorts as it reads).
	if created, ok := label["created_at"].(string); ok {
		if review, ok := label["review_on"].(string); ok && review < created[:10] {
			if v := reject("ENV-28", "schema-invalid", "review_on %s before created_at %s", review, created); v != nil {
				return v
			}
		}
	}
	if body == nil {
		return nil // v2 before decryption: the body's invariants are ENC-08's
	}
	after := func(later, earlier string) bool {
		return parseTime(body[later]).After(parseTime(body[earlier]))
	}
	switch short {
	case "strategic-assessment":
		if !after("valid_until", "valid_from") {
			if v := reject("ENV-28", "schema-invalid", "valid_until not after valid_from"); v != nil {
				return v
			}
		}
	case "exercise-notice":
		if !after("ends_at", "starts_at") {
			if v := reject("ENV-28", "schema-invalid", "ends_at not after starts_at"); v != nil {
				return v
			}
		}
	case "coordinated-activity-notice":
		if body["ends_at"] != nil && !after("ends_at", "starts_at") {
			if v := reject("ENV-28", "schema-invalid", "ends_at not after starts_at"); v != nil {
				return v
			}
		}
	case "receipt":
		// readers (SPEC §7, v1.3): only in a published receipt, ascending, not the sender.
		for _, a := range body["acknowledgements"].([]any) {
			ack := a.(map[string]any)
			readers, present := ack["readers"].([]any)
			if !present {
				continue
			}
			if body["status"] != "published" {
				if v := reject("ENV-28", "schema-invalid", "readers in a %v receipt", body["status"]); v != nil {
					return v
				}
			}
			for i, r := range readers {
				if i > 0 && readers[i-1].(string) >= r.(string) {
					if v := reject("ENV-28", "schema-invalid", "readers is not in ascending order"); v != nil {
						return v
					}
				}
				if r == ack["sender"] {
					if v := reject("ENV-28", "schema-invalid", "readers lists the sender %v", r); v != nil {
						return v
					}
				}
			}
		}
	case "personnel-exchange-notice":
		if body["home_agency"] == body["host_agency"] {
			if v := reject("ENV-28", "schema-invalid", "home_agency equals host_agency"); v != nil {
				return v
			}
		}
		if body["ends_on"] != nil && parseDate(body["ends_on"]).Before(parseDate(body["starts_on"])) {
			if v := reject("ENV-28", "schema-invalid", "ends_on before starts_on"); v != nil {
				return v
			}
		}
	}
	return nil
}

// participantCountries is SPEC §6.3: exactly these fields, no others.
func participantCountries(short string, body map[string]any) []string {
	var out []string
	agencies := func(field string) {
		list, _ := body[field].([]any)
		for _, a := range list {
			out = append(out, country(a.(string)))
		}
	}
	switch short {
	case "exercise-notice", "coordinated-activity-notice":
		agencies("participants")
	case "action-plan-update":
		agencies("owners")
	case "personnel-exchange-notice":
		out = append(out, country(body["home_agency"].(string)), country(body["host_agency"].(string)))
	case "dialogue-record":
		list, _ := body["participants"].([]any)
		for _, p := range list {
			out = append(out, p.(map[string]any)["country"].(string))
		}
	}
	return out
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
