package luabind

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// Secrets gives one script its secrets (rc.secret) and remembers every
// value it handed out, so that what the script logs (rc.log, print) and
// what the host logs about it (errors) can be redacted. One Secrets may
// serve every state of a script; it is safe for concurrent use.
type Secrets struct {
	// Lookup returns the secret called name, or an error saying why the
	// script may not have it (not allowed for it, not set, unreadable),
	// never holding a value.
	Lookup func(name string) (string, error)

	mu     sync.Mutex
	values []string // the values handed out
	forms  []string // the values and their quoted forms, longest first
}

// Redacted replaces a secret's value in redacted text.
const Redacted = "[redacted]"

// Redact returns text with every secret value handed out so far replaced
// by Redacted: the value itself and the forms quoting gives it (the inside
// of its JSON string as rc.json.encode writes it and as Go's encoding/json
// does, with HTML escapes, and of string.format's %q and Go's %q). A nil
// Secrets returns text.
//
// Text the host cut short before it reached here (an error message or a
// value clipped to a length, marked with "...") may end a part of a
// value there: the part before the mark, at least minCut bytes long, is
// redacted too when it begins some form of a value.
func (s *Secrets) Redact(text string) string {
	if s == nil {
		return text
	}
	s.mu.Lock()
	forms := s.forms
	s.mu.Unlock()
	if len(forms) == 0 {
		return text
	}
	for _, f := range forms {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, Redacted)
		}
	}
	if strings.Contains(text, cutMark) {
		text = redactCuts(text, forms)
	}
	return text
}

// cutMark is how the host marks text it cut short (luajson.Clip, the
// runtime's clipped error values), and minCut the shortest end of a cut
// text taken for the beginning of a secret.
const (
	cutMark = "..."
	minCut  = 4
	// maxCut is the longest text before a mark that can be a cut
	// secret: the host's longest clip (an error message's 4 KiB). It
	// bounds redactCuts' work per mark, whatever the secret's length.
	maxCut = 4 << 10
)

// redactCuts replaces, before each cutMark in text, the longest end that
// is a beginning (at least minCut bytes) of one of forms.
func redactCuts(text string, forms []string) string {
	var b strings.Builder
	done := 0 // text[:done] is in b
	for from := 0; ; {
		i := strings.Index(text[from:], cutMark)
		if i < 0 {
			break
		}
		i += from
		cut := 0
		for _, f := range forms {
			cut = max(cut, cutPrefix(text[done:i], f))
		}
		if cut > 0 {
			b.WriteString(text[done : i-cut])
			b.WriteString(Redacted)
			done = i
		}
		from = i + len(cutMark)
	}
	if done == 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}

// cutPrefix returns the length of the longest end of s, shorter than f
// and at least minCut bytes, that f begins with; 0 if none.
func cutPrefix(s, f string) int {
	for k := min(len(f)-1, len(s), maxCut); k >= minCut; k-- {
		if s[len(s)-1] == f[k-1] && s[len(s)-k:] == f[:k] {
			return k
		}
	}
	return 0
}

// active reports whether any value is to be redacted.
func (s *Secrets) active() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.forms) > 0
}

// remember records v as a value to redact, with its quoted forms.
func (s *Secrets) remember(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.values, v) {
		return
	}
	s.values = append(s.values, v)
	forms := slices.Clone(s.forms)
	for _, f := range quotedForms(v) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	// Longest first: a form containing another is replaced whole.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	s.forms = forms // a new slice: Redact reads the old one unlocked
}

// quotedForms returns v and the insides of the quoted strings that
// rc.json.encode, encoding/json (HTML-escaped), the sandbox's
// string.format("%q") (Lua 5.1's) and Go's %q (errors of the host) make
// of it.
func quotedForms(v string) []string {
	inside := func(q string) string {
		if len(q) < 2 {
			return ""
		}
		return q[1 : len(q)-1]
	}
	lq := strings.NewReplacer(`"`, `\"`, `\`, `\\`, "\n", "\\\n", "\r", `\r`, "\x00", `\000`).Replace(v)
	out := []string{v, lq, inside(strconv.Quote(v)), inside(strconv.QuoteToASCII(v))}
	if raw, err := luajson.Encode(context.Background(), lua.LString(v)); err == nil {
		out = append(out, inside(string(raw)))
	}
	if raw, err := json.Marshal(v); err == nil {
		out = append(out, inside(string(raw)))
	}
	return out
}

// redactJSON returns raw, a JSON text, with every string (keys too) and
// number that holds a secret redacted in the decoded value, encoded again
// (without HTML escapes): replacing inside the text itself could break
// it. A number holding a secret becomes a string.
func (s *Secrets) redactJSON(raw []byte) []byte {
	if !s.active() {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []byte(strconv.Quote(Redacted)) // not reached: raw is luajson's
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s.redactValue(v)); err != nil {
		return []byte(strconv.Quote(Redacted))
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func (s *Secrets) redactValue(v any) any {
	switch v := v.(type) {
	case string:
		return s.Redact(v)
	case json.Number:
		if r := s.Redact(string(v)); r != string(v) {
			return r
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = s.redactValue(e)
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[s.Redact(k)] = s.redactValue(e)
		}
		return out
	}
	return v
}

// secret is
//
//	rc.secret(name) -> string | nil, err
//
// the secret name as Module.Secrets gives it; err (error_type "secret")
// says why not, without any value.
func (b *binding) secret(L *lua.LState) int {
	name := L.CheckString(1)
	var (
		v   string
		err error
	)
	if b.m.Secrets == nil || b.m.Secrets.Lookup == nil {
		err = errNoSecrets
	} else {
		v, err = b.m.Secrets.Lookup(name)
	}
	if err != nil {
		return b.fail(L, secretError{err})
	}
	b.m.Secrets.remember(v)
	L.Push(lua.LString(v))
	return 1
}

// redact is Module.Secrets.Redact.
func (b *binding) redact(s string) string { return b.m.Secrets.Redact(s) }

// secretError is rc.secret's failure: error_type "secret".
type secretError struct{ error }

func (secretError) ErrorType() string { return "secret" }
