package rctest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// obj is a JSON object with ordered keys.
type obj []field

type field struct {
	k string
	v any
}

// jsTime marshals as an ISO-8601 string with milliseconds and Z.
type jsTime time.Time

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTime writes t as "2006-01-02T15:04:05.000Z" (hand-rolled: it is
// the hot spot of a large subscriptions.get).
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, timeLayout)
		return append(b, '"')
	}
	h, mi, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = append(b, '"', byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = two(b, int(mo))
	b = append(b, '-')
	b = two(b, d)
	b = append(b, 'T')
	b = two(b, h)
	b = append(b, ':')
	b = two(b, mi)
	b = append(b, ':')
	b = two(b, sec)
	return append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
}

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case jsTime:
		return appendTime(b, time.Time(x))
	case json.RawMessage: // inserted verbatim: it must be valid JSON
		return append(b, x...)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case obj:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.k)
			b = append(b, ':')
			b = appendValue(b, f.v)
		}
		return append(b, '}')
	case []obj:
		b = append(b, '[')
		for i, o := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, o)
		}
		return append(b, ']')
	default:
		panic(fmt.Sprintf("rctest: appendValue: unsupported type %T", v)) // a bug in rctest
	}
}

func (o obj) bytes() []byte { return appendValue(nil, o) }

// appendSubscription writes s as the server's subscription document.
func (st *state) appendSubscription(b []byte, s *subscription) []byte {
	b = append(b, `{"_id":`...)
	b = appendString(b, s.id)
	b = append(b, `,"rid":`...)
	b = appendString(b, s.rid)
	b = append(b, `,"t":`...)
	b = appendString(b, s.t)
	b = append(b, `,"name":`...)
	b = appendString(b, s.name)
	if s.fname != "" {
		b = append(b, `,"fname":`...)
		b = appendString(b, s.fname)
	}
	b = append(b, `,"ts":`...)
	b = appendTime(b, s.ts)
	b = append(b, `,"ls":`...)
	b = appendTime(b, s.ls)
	if !s.lr.IsZero() {
		b = append(b, `,"lr":`...)
		b = appendTime(b, s.lr)
	}
	b = append(b, `,"u":{"_id":`...)
	b = appendString(b, s.uid)
	if u := st.users[s.uid]; u != nil {
		b = append(b, `,"username":`...)
		b = appendString(b, u.username)
		b = append(b, `,"name":`...)
		b = appendString(b, u.name)
	}
	b = append(b, '}')
	b = append(b, `,"open":`...)
	b = strconv.AppendBool(b, s.open)
	b = append(b, `,"alert":`...)
	b = strconv.AppendBool(b, s.alert)
	b = append(b, `,"unread":`...)
	b = strconv.AppendInt(b, int64(s.unread), 10)
	b = append(b, `,"userMentions":`...)
	b = strconv.AppendInt(b, int64(s.userMentions), 10)
	b = append(b, `,"groupMentions":`...)
	b = strconv.AppendInt(b, int64(s.groupMentions), 10)
	if len(s.roles) > 0 {
		b = append(b, `,"roles":`...)
		b = appendValue(b, s.roles)
	}
	b = append(b, `,"f":`...)
	b = strconv.AppendBool(b, s.f)
	b = append(b, `,"disableNotifications":false,"emailNotifications":"mentions","audioNotificationValue":"beep","desktopNotifications":"all","mobilePushNotifications":"mentions"`...)
	if len(s.tunread) > 0 {
		b = append(b, `,"tunread":`...)
		b = appendValue(b, s.tunread)
	}
	if len(s.tunreadUser) > 0 {
		b = append(b, `,"tunreadUser":`...)
		b = appendValue(b, s.tunreadUser)
	}
	if len(s.tunreadGroup) > 0 {
		b = append(b, `,"tunreadGroup":`...)
		b = appendValue(b, s.tunreadGroup)
	}
	if s.prid != "" {
		b = append(b, `,"prid":`...)
		b = appendString(b, s.prid)
	}
	if s.v != nil {
		b = append(b, `,"v":`...)
		b = appendValue(b, obj{{"_id", s.v.id}, {"username", s.v.username}, {"name", s.v.name}, {"token", s.v.token}})
	}
	b = append(b, `,"_updatedAt":`...)
	b = appendTime(b, s.updatedAt)
	return append(b, '}')
}

func userRef(u *user) obj {
	if u == nil {
		return obj{{"_id", ""}, {"username", ""}}
	}
	return obj{{"_id", u.id}, {"username", u.username}, {"name", u.name}}
}

// messageObj renders m as an IMessage.
func (st *state) messageObj(m *message) obj {
	o := obj{{"_id", m.id}, {"rid", m.rid}, {"msg", m.msg}, {"ts", jsTime(m.ts)}, {"u", userRef(st.users[m.uid])}}
	mentions := make([]obj, 0, len(m.mentions))
	for _, x := range m.mentions {
		mo := obj{{"_id", x.id}, {"username", x.username}}
		if x.name != "" {
			mo = append(mo, field{"name", x.name})
		}
		mo = append(mo, field{"type", x.typ})
		mentions = append(mentions, mo)
	}
	o = append(o, field{"mentions", mentions}, field{"channels", []obj{}})
	if m.alias != "" {
		o = append(o, field{"alias", m.alias})
	}
	if m.emoji != "" {
		o = append(o, field{"emoji", m.emoji})
	}
	if m.avat != "" {
		o = append(o, field{"avatar", m.avat})
	}
	if m.webhook {
		o = append(o, field{"groupable", false})
	}
	if len(m.attachments) > 0 {
		o = append(o, field{"attachments", m.attachments})
	}
	if m.tmid != "" {
		o = append(o, field{"tmid", m.tmid})
	}
	if m.tcount > 0 {
		o = append(o, field{"tcount", m.tcount}, field{"tlm", jsTime(m.tlm)}, field{"replies", m.replies})
	}
	o = st.messageExtras(o, m)
	return append(o, field{"_updatedAt", jsTime(m.updatedAt)})
}

// meObj renders u as getUserInfo does (me, login's data.me); base is the
// server's URL for avatarUrl.
func (u *user) meObj(base string) obj {
	o := obj{{"_id", u.id}, {"username", u.username}, {"name", u.name}}
	if u.email != "" {
		o = append(o, field{"emails", []obj{{{"address", u.email}, {"verified", true}}}})
	}
	o = append(o,
		field{"status", "online"}, field{"statusConnection", "online"}, field{"utcOffset", 0},
		field{"active", true}, field{"roles", u.roles}, field{"type", u.typ()},
	)
	if u.email != "" {
		o = append(o, field{"email", u.email})
	}
	services := obj{{"password", obj{{"exists", u.password != ""}}}}
	if u.totp != "" {
		services = append(services, field{"totp", obj{{"enabled", true}}})
	}
	return append(o,
		field{"settings", obj{{"profile", obj{}}, {"preferences", obj{}}}},
		field{"avatarUrl", base + "/avatar/" + u.username},
		field{"isOAuthUser", false},
		field{"services", services},
	)
}

func (u *user) typ() string {
	if u.hasRole("bot") {
		return "bot"
	}
	return "user"
}

// infoObj renders u as users.info does for another user.
func (u *user) infoObj() obj {
	return obj{
		{"_id", u.id}, {"createdAt", jsTime(u.createdAt)}, {"username", u.username}, {"name", u.name},
		{"type", u.typ()}, {"status", "online"}, {"active", true}, {"utcOffset", 0}, {"roles", u.roles},
	}
}
