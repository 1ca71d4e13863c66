package source

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
)

// TestPollState: a Poll is connecting until its first poll ends, polling
// while polls succeed and failing while they fail; Newest follows the
// newest _updatedAt the polls returned, not the local clock.
func TestPollState(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(-time.Hour, "a") // the server's clock an hour behind
	gate := make(chan struct{})
	p := NewPoll(gatedSubs{f, gate}, PollOptions{Interval: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	assert.Equal(t, StateConnecting, p.State())
	assert.True(t, p.Newest().IsZero())
	assert.Equal(t, "poll", p.Name())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, discard) }()
	defer func() { cancel(); <-done }()
	assert.Equal(t, StateConnecting, p.State(), "no poll answered yet")
	close(gate)
	eventually(t, func() bool { return p.State() == StatePolling }, "a successful poll")
	f.mu.Lock()
	want := f.subs["a"].UpdatedAt
	f.mu.Unlock()
	// The state turns polling as the answer comes, the newest stamp once
	// it is read: a moment later.
	eventually(t, func() bool { return p.Newest().Equal(want) }, "the newest stamp of the first answer")

	f.failNext(errors.New("boom"), errors.New("boom"), errors.New("boom"))
	eventually(t, func() bool { return p.State() == StateFailing }, "a failed poll")
	eventually(t, func() bool { return p.State() == StatePolling }, "polls succeeding again")
	f.upsert("b")
	f.mu.Lock()
	want = f.subs["b"].UpdatedAt
	f.mu.Unlock()
	eventually(t, func() bool { return p.Newest().Equal(want) }, "the newer stamp")
	require.Less(t, time.Since(p.Newest()), 2*time.Hour)
	assert.Greater(t, time.Since(p.Newest()), 59*time.Minute, "server stamps, not the local clock")
}

// gatedSubs holds every Get until gate is closed.
type gatedSubs struct {
	*fakeSubs
	gate chan struct{}
}

func (g gatedSubs) Get(ctx context.Context, opts *rc.GetSubscriptionsOptions) (*rc.SubscriptionsResult, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.fakeSubs.Get(ctx, opts)
}
