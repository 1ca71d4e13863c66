package rctest

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func BenchmarkNewServer5000(b *testing.B) {
	for b.Loop() {
		s := NewServer(WithSubscriptions(5000))
		s.Close()
	}
}

func BenchmarkSubscriptionsGet5000(b *testing.B) {
	s := NewServer(WithSubscriptions(5000))
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	req, err := http.NewRequest("GET", s.URL+"/api/v1/subscriptions.get", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-User-Id", BotUserID)
	req.Header.Set("X-Auth-Token", BotToken)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(n)
	}
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{
		time.Date(2024, 2, 15, 7, 17, 38, 547_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1_000_000, time.FixedZone("x", 3600)),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := `"` + tm.UTC().Format(timeLayout) + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
