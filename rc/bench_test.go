package rc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// The benchmarks run against rctest over real HTTP. Each "floor" is the
// same request with plain net/http and encoding/json into map[string]any:
// the baseline the client must match (GetOne) or beat (Get of 5,000).

var subscriptionCounts = []int{10, 1000, 5000}

func BenchmarkSubscriptionsGet(b *testing.B) {
	for _, n := range subscriptionCounts {
		s := rctest.NewServer(rctest.WithSubscriptions(n))
		b.Run(fmt.Sprintf("client/n=%d", n), func(b *testing.B) {
			c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.Subscriptions.Get(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Update) < n {
					b.Fatalf("got %d subscriptions, want at least %d", len(res.Update), n)
				}
			}
		})
		b.Run(fmt.Sprintf("raw/n=%d", n), func(b *testing.B) {
			c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Subscriptions.GetRaw(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("floor/n=%d", n), func(b *testing.B) {
			hc := &http.Client{}
			b.ReportAllocs()
			for b.Loop() {
				var out struct {
					Update  []map[string]any `json:"update"`
					Remove  []map[string]any `json:"remove"`
					Success bool             `json:"success"`
				}
				floorGet(b, hc, s.URL+"/api/v1/subscriptions.get", &out)
				if len(out.Update) < n {
					b.Fatalf("got %d subscriptions, want at least %d", len(out.Update), n)
				}
			}
		})
		s.Close()
	}
}

func BenchmarkGetOne(b *testing.B) {
	s := rctest.NewServer()
	defer s.Close()
	b.Run("client", func(b *testing.B) {
		c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			sub, err := c.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
			if err != nil || sub == nil {
				b.Fatal(sub, err)
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		hc := &http.Client{}
		u := s.URL + "/api/v1/subscriptions.getOne?" + url.Values{"roomId": {rctest.GeneralRoomID}}.Encode()
		b.ReportAllocs()
		for b.Loop() {
			var out struct {
				Subscription map[string]any `json:"subscription"`
				Success      bool           `json:"success"`
			}
			floorGet(b, hc, u, &out)
			if out.Subscription == nil {
				b.Fatal("no subscription")
			}
		}
	})
}

// floorGet is the plain way: net/http and encoding/json, nothing else.
func floorGet(b *testing.B, hc *http.Client, u string, out any) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-User-Id", rctest.BotUserID)
	req.Header.Set("X-Auth-Token", rctest.BotToken)
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
}
