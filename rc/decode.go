package rc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The typed decoding of responses uses github.com/go-json-experiment/json
// (the encoding/json/v2 candidate): it walks a body once, decoding each
// object into its struct while remembering where the object's bytes are, so
// that Raw is a sub-slice of the body rather than a second parse or copy.
// Raw slices of one response share the body's backing array.

// decodeOpts are lenient where the server is trusted: duplicate names and
// invalid UTF-8 are let through rather than failing a whole poll.
var decodeOpts = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// Method-free twins of the types whose UnmarshalJSON fills Raw: decoding
// into them uses the default struct decoding.
type (
	subscriptionJSON Subscription
	messageJSON      Message
	userJSON         User
	roomJSON         Room
)

// UnmarshalJSON decodes a subscription object and keeps a copy of it in Raw.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	return unmarshalWithRaw(b, (*subscriptionJSON)(s), &s.Raw)
}

// UnmarshalJSON decodes a message object and keeps a copy of it in Raw.
func (m *Message) UnmarshalJSON(b []byte) error {
	return unmarshalWithRaw(b, (*messageJSON)(m), &m.Raw)
}

// UnmarshalJSON decodes a room object and keeps a copy of it in Raw.
func (r *Room) UnmarshalJSON(b []byte) error {
	return unmarshalWithRaw(b, (*roomJSON)(r), &r.Raw)
}

// UnmarshalJSON decodes a user object and keeps a copy of it in Raw.
func (u *User) UnmarshalJSON(b []byte) error {
	return unmarshalWithRaw(b, (*userJSON)(u), &u.Raw)
}

func unmarshalWithRaw(b []byte, v any, raw *json.RawMessage) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	if err := jsonv2.Unmarshal(b, v, decodeOpts); err != nil {
		return err
	}
	*raw = bytes.Clone(b)
	return nil
}

// walkObject calls fn for each member of the JSON object body, with dec
// positioned before the member's value; fn must read or skip the value.
func walkObject(body []byte, fn func(dec *jsontext.Decoder, name string) error) error {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), decodeOpts)
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return fmt.Errorf("response is a JSON %s, not an object", tok.Kind())
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := fn(dec, name.String()); err != nil {
			return err
		}
	}
	_, err = dec.ReadToken()
	return err
}

// decodeRaw decodes the next value of dec (which reads body) into v and
// returns the value's bytes as a sub-slice of body.
func decodeRaw(dec *jsontext.Decoder, body []byte, v any) ([]byte, error) {
	start := dec.InputOffset()
	for start < int64(len(body)) {
		switch body[start] {
		case ' ', '\t', '\r', '\n', ':', ',':
			start++
			continue
		}
		break
	}
	if err := jsonv2.UnmarshalDecode(dec, v); err != nil {
		return nil, err
	}
	end := dec.InputOffset()
	if start > end || end > int64(len(body)) {
		return nil, errors.New("internal error: value offsets out of range")
	}
	return body[start:end:end], nil
}

// decodeSubscriptionsResult decodes the body of subscriptions.get.
func decodeSubscriptionsResult(body []byte) (*SubscriptionsResult, error) {
	res := &SubscriptionsResult{}
	err := walkObject(body, func(dec *jsontext.Decoder, name string) error {
		switch name {
		case "update":
			subs, err := decodeSubscriptionList(dec, body)
			res.Update = subs
			return err
		case "remove":
			return jsonv2.UnmarshalDecode(dec, &res.Remove)
		default:
			return dec.SkipValue()
		}
	})
	if err != nil {
		return nil, err
	}
	if res.Update == nil {
		res.Update = []*Subscription{}
	}
	if res.Remove == nil {
		res.Remove = []RemovedSubscription{}
	}
	return res, nil
}

// decodeSubscriptionList decodes an array of subscriptions into one backing
// array (one allocation for all the structs).
func decodeSubscriptionList(dec *jsontext.Decoder, body []byte) ([]*Subscription, error) {
	if dec.PeekKind() == 'n' {
		_, err := dec.ReadToken()
		return nil, err
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '[' {
		return nil, fmt.Errorf("update is a JSON %s, not an array", tok.Kind())
	}
	// Every subscription has a "rid": a cheap upper bound of the count.
	subs := make([]Subscription, 0, bytes.Count(body, []byte(`"rid"`)))
	for dec.PeekKind() != ']' {
		subs = append(subs, Subscription{})
		s := &subs[len(subs)-1]
		raw, err := decodeRaw(dec, body, (*subscriptionJSON)(s))
		if err != nil {
			return nil, fmt.Errorf("update[%d]: %w", len(subs)-1, err)
		}
		s.Raw = raw
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	out := make([]*Subscription, len(subs))
	for i := range subs {
		out[i] = &subs[i]
	}
	return out, nil
}

// decodeMember decodes the member name of the object body into v (one of
// the method-free twins), returning the member's raw bytes; found is false
// when the member is absent or null.
func decodeMember(body []byte, name string, v any) (raw []byte, found bool, err error) {
	err = walkObject(body, func(dec *jsontext.Decoder, n string) error {
		if n != name || found {
			return dec.SkipValue()
		}
		if dec.PeekKind() == 'n' {
			_, err := dec.ReadToken()
			return err
		}
		r, err := decodeRaw(dec, body, v)
		if err != nil {
			return err
		}
		raw, found = r, true
		return nil
	})
	return raw, found, err
}
