package rc

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrorsNeverShowTheCredentials: a proxy that echoes the request into
// its error page (the body, the headers), or a server quoting it in its
// JSON error, puts the password or the token in what the client would
// report; the client's errors show "[redacted]" instead, in the raw and
// the JSON-escaped forms, in the message, the type and the details.
func TestErrorsNeverShowTheCredentials(t *testing.T) {
	t.Parallel()
	const password = `pa"ss\wörd<1>`
	const token = "tok-9f8e7d6c5b4a"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/me") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			out, _ := json.Marshal(map[string]any{"success": false, "error": "bad token " + r.Header.Get("X-Auth-Token"),
				"errorType": "x-" + r.Header.Get("X-Auth-Token"), "details": map[string]any{"got": []any{r.Header.Get("X-Auth-Token")}}})
			_, _ = w.Write(out)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>proxy error for "+string(body)+" token="+r.Header.Get("X-Auth-Token")+"</html>")
	}))
	defer echo.Close()

	c, err := New(echo.URL)
	require.NoError(t, err)
	err = c.Login(context.Background(), "bot", password)
	require.Error(t, err)
	escaped, _ := json.Marshal(password)
	for _, form := range []string{password, string(escaped[1 : len(escaped)-1]), `pa\"ss\\wörd<1>`, `pa\"ss`} {
		assert.NotContains(t, err.Error(), form, "the password, as sent")
	}
	assert.Contains(t, err.Error(), "[redacted]", "the snippet is kept, the secret replaced: %v", err)

	c, err = New(echo.URL, WithToken("u1", token))
	require.NoError(t, err)
	_, err = c.Me(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), token)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "bad token [redacted]", e.Message)
	assert.Equal(t, "x-[redacted]", e.Type)
	assert.Equal(t, map[string]any{"got": []any{"[redacted]"}}, e.Details)
}

// TestRedactionBeforeTheSnippet: a secret across the snippet's cut (120
// characters), inside white space the snippet squeezes, or HTML-escaped
// never shows; a secret shorter than 4 bytes is not replaced in the text
// (it would blank common letters, and so show itself), so a server's code
// keeps matching.
func TestRedactionBeforeTheSnippet(t *testing.T) {
	t.Parallel()
	const password = "two  spaces\tand <&> 'quotes'"
	page := func(body string) string {
		return "<html><body>" + strings.Repeat("x", 100) + " " + body + " " + html.EscapeString(body) + "</body></html>"
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		pw, _ := in["password"].(string)
		if strings.HasSuffix(r.URL.Path, "/login") && pw == "abc" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"status":"error","error":"totp-required","message":"TOTP Required abc"}`)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, page(pw))
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	require.NoError(t, err)
	err = c.Login(context.Background(), "bot", password)
	require.Error(t, err)
	for _, part := range []string{"two", "spaces", "quotes", "&lt;", "&#39;"} {
		assert.NotContains(t, err.Error(), part, "a part of the password: %v", err)
	}
	err = c.Login(context.Background(), "bot", "abc")
	assert.ErrorIs(t, err, ErrTOTPRequired, "the server's code still matches")
	assert.Contains(t, err.Error(), "TOTP Required abc", "a 3-byte secret is not blanked in the text")
}
