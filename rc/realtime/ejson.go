package realtime

import (
	"bytes"
	"strconv"
	"time"
)

// restTimeLayout is how the REST API writes dates.
const restTimeLayout = "2006-01-02T15:04:05.000Z"

var dateKey = []byte(`"$date"`)

// RESTDates returns doc, a JSON value from the stream, with every EJSON
// date ({"$date": <epoch ms>}) replaced by the string the REST API sends
// for it ("2024-07-02T18:07:35.267Z", UTC, milliseconds), so that a
// subscription or a message from the stream reads as the same document
// from REST. A doc without dates is returned as it is (no copy); other
// EJSON types are left alone, as is a "$date" whose value is not an
// integer.
//
// A "$date" name can only be the text of a member name outside strings
// (quotes inside JSON strings are escaped), so a plain scan finds them.
func RESTDates(doc []byte) []byte {
	i := bytes.Index(doc, dateKey)
	if i < 0 {
		return doc
	}
	var out []byte
	last := 0 // doc[last:] is not copied yet
	for i >= 0 {
		start, end, ms, ok := dateAt(doc, i)
		if ok {
			if out == nil {
				out = make([]byte, 0, len(doc))
			}
			out = append(out, doc[last:start]...)
			out = append(out, '"')
			out = time.UnixMilli(ms).UTC().AppendFormat(out, restTimeLayout)
			out = append(out, '"')
			last = end
		}
		next := bytes.Index(doc[i+len(dateKey):], dateKey)
		if next < 0 {
			break
		}
		i += len(dateKey) + next
	}
	if out == nil {
		return doc
	}
	return append(out, doc[last:]...)
}

// dateAt matches {"$date": <integer>} around the "$date" at doc[i:]: the
// object's bounds and the integer.
func dateAt(doc []byte, i int) (start, end int, ms int64, ok bool) {
	start = i - 1
	for start >= 0 && isSpace(doc[start]) {
		start--
	}
	if start < 0 || doc[start] != '{' {
		return 0, 0, 0, false
	}
	j := skipSpace(doc, i+len(dateKey))
	if j >= len(doc) || doc[j] != ':' {
		return 0, 0, 0, false
	}
	j = skipSpace(doc, j+1)
	k := j
	if k < len(doc) && doc[k] == '-' {
		k++
	}
	for k < len(doc) && doc[k] >= '0' && doc[k] <= '9' {
		k++
	}
	n, err := strconv.ParseInt(string(doc[j:k]), 10, 64)
	if err != nil {
		return 0, 0, 0, false
	}
	k = skipSpace(doc, k)
	if k >= len(doc) || doc[k] != '}' {
		return 0, 0, 0, false
	}
	return start, k + 1, n, true
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func skipSpace(doc []byte, j int) int {
	for j < len(doc) && isSpace(doc[j]) {
		j++
	}
	return j
}
