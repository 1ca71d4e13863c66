package rctest

import (
	"fmt"
	"time"
)

// Test hooks for pollers: states a real server reaches only by accident
// (a wrong clock) or at a scale a test cannot post its way to.

// SetSubscriptionUpdatedAt sets the _updatedAt of username's subscription
// of roomID to at and changes nothing else, as a server with a wrong clock
// (or an import) would: e.g. a day ahead of the server's own clock.
func (s *Server) SetSubscriptionUpdatedAt(username, roomID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return fmt.Errorf("rctest: unknown user %q", username)
	}
	sub := s.st.sub(u.id, roomID)
	if sub == nil {
		return fmt.Errorf("rctest: %s has no subscription to room %q", username, roomID)
	}
	sub.touch(at.UTC().Truncate(time.Millisecond))
	return nil
}

// TouchSubscriptions changes every subscription of username in the same
// instant: each gets one more unread, alert set and _updatedAt now. It is
// an artificial burst for tests of pollers and queues, not what messages
// do (facts §2.7: a plain channel message counts no unread, and an alerted
// subscription is not touched; PostMessage follows those rules). It returns the ids of the subscriptions changed,
// in creation order. With WithSubscriptions(n) it changes n+ of them at
// once, which no sequence of PostMessage calls does within one poll.
func (s *Server) TouchSubscriptions(username string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return nil, fmt.Errorf("rctest: unknown user %q", username)
	}
	now := s.now()
	list := s.st.subList[u.id]
	ids := make([]string, 0, len(list))
	for _, sub := range list {
		sub.unread++
		sub.alert = true
		sub.touch(now)
		ids = append(ids, sub.id)
	}
	return ids, nil
}
