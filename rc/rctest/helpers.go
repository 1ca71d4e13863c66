package rctest

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// PostMessage posts text in roomID as username, exactly as chat.postMessage
// would (see the package documentation): a mention counts for the member
// mentioned, "@all"/"@here" for everyone, a plain message sets alert where
// it is not set yet and, by default, counts in no unread counter except in
// a DM. The sender's own subscription is marked read. Posting to a public
// channel the user is not in joins it.
func (s *Server) PostMessage(username, roomID, text string) (MessageInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return MessageInfo{}, fmt.Errorf("rctest: unknown user %q", username)
	}
	r := s.st.rooms[roomID]
	if r == nil {
		return MessageInfo{}, fmt.Errorf("rctest: unknown room %q", roomID)
	}
	now := s.now()
	if err := s.st.join(u, r, now); err != nil {
		return MessageInfo{}, fmt.Errorf("rctest: %s in room %q: %w", username, roomID, err)
	}
	m, err := s.st.postMessage(u, r, newMessage{text: text, webhook: true}, now)
	if err != nil {
		return MessageInfo{}, fmt.Errorf("rctest: post message: %w", err)
	}
	return s.st.messageInfo(m), nil
}

func (st *state) messageInfo(m *message) MessageInfo {
	mi := MessageInfo{ID: m.id, RoomID: m.rid, Text: m.msg, TS: m.ts, ThreadID: m.tmid, Alias: m.alias,
		Type: m.t, EditedAt: m.editedAt}
	for _, r := range m.reactions {
		if mi.Reactions == nil {
			mi.Reactions = map[string][]string{}
		}
		mi.Reactions[r.emoji] = slices.Clone(r.usernames)
	}
	if u := st.users[m.uid]; u != nil {
		mi.Username = u.username
	}
	return mi
}

// AddSubscription subscribes username to roomID (joins the room). It is a
// no-op when the subscription exists.
func (s *Server) AddSubscription(username, roomID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return fmt.Errorf("rctest: unknown user %q", username)
	}
	r := s.st.rooms[roomID]
	if r == nil {
		return fmt.Errorf("rctest: unknown room %q", roomID)
	}
	s.st.subscribe(u, r, s.now())
	return nil
}

// RemoveSubscription removes username's subscription of roomID and moves
// it to the trash, so subscriptions.get lists it in "remove" for an
// updatedSince before now.
func (s *Server) RemoveSubscription(username, roomID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return fmt.Errorf("rctest: unknown user %q", username)
	}
	if !s.st.unsubscribe(u.id, roomID, s.now()) {
		return fmt.Errorf("rctest: %s has no subscription to room %q", username, roomID)
	}
	return nil
}

// Subscription returns a snapshot of username's subscription of roomID.
func (s *Server) Subscription(username, roomID string) (SubscriptionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return SubscriptionState{}, false
	}
	sub := s.st.sub(u.id, roomID)
	if sub == nil {
		return SubscriptionState{}, false
	}
	return SubscriptionState{
		ID: sub.id, RoomID: sub.rid, RoomType: sub.t, Name: sub.name,
		Unread: sub.unread, UserMentions: sub.userMentions, GroupMentions: sub.groupMentions,
		Alert: sub.alert, Open: sub.open, TS: sub.ts, LS: sub.ls, LR: sub.lr, UpdatedAt: sub.updatedAt,
		ThreadUnread: slices.Clone(sub.tunread), ThreadUser: slices.Clone(sub.tunreadUser),
		ThreadGroup: slices.Clone(sub.tunreadGroup),
	}, true
}

// Messages returns the messages of roomID, oldest first.
func (s *Server) Messages(roomID string) []MessageInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.rooms[roomID]
	if r == nil {
		return nil
	}
	out := make([]MessageInfo, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = s.st.messageInfo(m)
	}
	return out
}

// SetTOTP turns on TOTP for username: a password login then needs code
// (in the body's "code" or the x-2fa-code header). An empty code turns it
// off. Unknown users are ignored.
func (s *Server) SetTOTP(username, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.st.userByName(username); u != nil {
		u.totp = code
	}
}

// CreateToken creates a new personal access token for username and
// returns the user's id and the token. It panics for an unknown user (a
// test's mistake).
func (s *Server) CreateToken(username string) (userID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		panic(fmt.Sprintf("rctest: CreateToken: unknown user %q", username))
	}
	token = newToken()
	s.st.tokens[hashToken(token)] = tokenRec{uid: u.id, kind: tokenKindPersonal}
	return u.id, token
}

// RunActivity simulates a lively server until ctx is done (or the server
// is closed): every tick one of alice, bob and carol posts in a seeded
// room (general, random, or alice's DM with the bot); about one message
// in three mentions the bot with "@" + BotUsername. A non-positive every
// means one second.
func (s *Server) RunActivity(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
		s.activityTick(i)
	}
}

func (s *Server) activityTick(i int) {
	posters := []string{AliceUsername, BobUsername, CarolUsername}
	rooms := []string{GeneralRoomID, RandomRoomID, GeneralRoomID}
	phrases := []string{
		"the build is green again", "who is on call this week?", "coffee break in 5",
		"merged the fix for the login bug", "the dashboard looks slow today", "release notes are up",
		"can someone review my change?",
	}
	user := posters[i%len(posters)]
	room := rooms[(i/len(posters))%len(rooms)]
	if user == AliceUsername && i%4 == 3 {
		room = DMAliceRoomID
	}
	text := phrases[i%len(phrases)]
	if (i/len(posters))%3 == 1 {
		text = "@" + BotUsername + " " + text
	}
	_, _ = s.PostMessage(user, room, text) // seeded users and rooms: cannot fail
}
