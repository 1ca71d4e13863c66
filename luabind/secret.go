package luabind

import (
	"encoding/json"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
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
	values []string // longest first
}

// Redacted replaces a secret's value in redacted text.
const Redacted = "[redacted]"

// Redact returns text with every secret value handed out so far (and its
// JSON-escaped form) replaced by Redacted. A nil Secrets returns text.
func (s *Secrets) Redact(text string) string {
	if s == nil {
		return text
	}
	s.mu.Lock()
	values := s.values
	s.mu.Unlock()
	for _, v := range values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Redacted)
		}
		if q, _ := json.Marshal(v); len(q) > 2 && string(q[1:len(q)-1]) != v {
			text = strings.ReplaceAll(text, string(q[1:len(q)-1]), Redacted)
		}
	}
	return text
}

// remember records v as a value to redact.
func (s *Secrets) remember(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, known := range s.values {
		if known == v {
			return
		}
	}
	// Longest first: a value containing another is replaced whole.
	i := 0
	for i < len(s.values) && len(s.values[i]) >= len(v) {
		i++
	}
	s.values = append(s.values[:i], append([]string{v}, s.values[i:]...)...)
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
		tb := L.CreateTable(0, 4)
		tb.Metatable = b.errMeta
		tb.RawSetString("status", lua.LNumber(0))
		tb.RawSetString("error", lua.LString(err.Error()))
		tb.RawSetString("error_type", lua.LString("secret"))
		tb.RawSetString("message", lua.LString(err.Error()))
		L.Push(lua.LNil)
		L.Push(tb)
		return 2
	}
	b.m.Secrets.remember(v)
	L.Push(lua.LString(v))
	return 1
}

// redact is Module.Secrets.Redact.
func (b *binding) redact(s string) string { return b.m.Secrets.Redact(s) }
