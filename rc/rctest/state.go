package rctest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Seeded users. Every password is "<username>-password".
const (
	// BotUserID is the _id of the seeded bot user (the user tests act as).
	BotUserID = "rcluaBotUser00001"
	// BotUsername is the seeded bot's username.
	BotUsername = "rclua.bot"
	// BotName is the seeded bot's display name.
	BotName = "rclua Bot"
	// BotPassword is the seeded bot's password.
	BotPassword = "rclua.bot-password"
	// BotToken is a personal access token of the seeded bot, valid from the
	// start (until a logout made with it deletes it).
	BotToken = "rclua-dev-bot-personal-access-token-0000001"

	// AliceUserID is the _id of the seeded user "alice".
	AliceUserID = "rcluaAliceUser001"
	// AliceUsername is alice's username.
	AliceUsername = "alice"
	// AlicePassword is alice's password.
	AlicePassword = "alice-password"
	// AliceToken is a personal access token of alice, valid from the start
	// (until a logout made with it deletes it): a fixed demo token, so that
	// --dev's curl line to post as alice stays the same across restarts.
	AliceToken = "rclua-dev-alice-personal-access-token-0001"

	// BobUserID is the _id of the seeded user "bob".
	BobUserID = "rcluaBobUser00001"
	// BobUsername is bob's username.
	BobUsername = "bob"
	// BobPassword is bob's password.
	BobPassword = "bob-password"

	// CarolUserID is the _id of the seeded user "carol".
	CarolUserID = "rcluaCarolUser001"
	// CarolUsername is carol's username.
	CarolUsername = "carol"
	// CarolPassword is carol's password.
	CarolPassword = "carol-password"

	// AdminUserID is the _id of the seeded user "admin" (roles admin, user).
	AdminUserID = "rcluaAdminUser001"
	// AdminUsername is the admin's username.
	AdminUsername = "admin"
	// AdminPassword is the admin's password.
	AdminPassword = "admin-password"

	// RocketCatUserID is the _id of the seeded "rocket.cat" user, which has
	// the "bot" role (bypasses the rate limiter, may use alias/avatar), as
	// on a real server. It has no password login; use CreateToken.
	RocketCatUserID = "rocket.cat"
	// RocketCatUsername is rocket.cat's username.
	RocketCatUsername = "rocket.cat"
)

// Seeded rooms.
const (
	// GeneralRoomID is the public channel "general" (t=c); the bot has new
	// messages there (alert), one mentioning it, and an unread thread (a
	// reply to the bot's own message): with the default Unread_Count,
	// unread 1, userMentions 1.
	GeneralRoomID = "GENERAL"
	// RandomRoomID is the public channel "random" (t=c), all read.
	RandomRoomID = "rcluaRandomRoom01"
	// OpsRoomID is the private group "ops" (t=p) with an unread @all
	// (groupMentions 1, unread 1).
	OpsRoomID = "rcluaOpsGroup0001"
	// DMAliceRoomID is the direct room between the bot and alice (t=d),
	// with one unread message from alice (unread 1, userMentions 0); like
	// the real server its id is both user ids, sorted, concatenated.
	DMAliceRoomID = AliceUserID + BotUserID
	// EmptyRoomID is a public channel "empty" the bot is subscribed to,
	// without any message.
	EmptyRoomID = "rcluaEmptyRoom001"
	// NoSubRoomID is a public channel "nosub" (with messages) the bot is
	// not subscribed to.
	NoSubRoomID = "rcluaNoSubRoom001"
	// DiscussionRoomID is a discussion (t=p, prid=GENERAL) the bot is in.
	DiscussionRoomID = "rcluaDiscussion01"
	// LivechatRoomID is an omnichannel room (t=l) served by the bot.
	LivechatRoomID = "rcluaLivechat0001"
	// TrashedSubscriptionID is the _id of a bot subscription deleted 10
	// days before the server started (it appears in "remove" for an older
	// updatedSince).
	TrashedSubscriptionID = "rcluaTrashedSub01"
)

const (
	apiVersion        = "8.7"
	apiVersionFull    = "8.7.0"
	maxMessageSize    = 5000
	maxRequestLog     = 10000
	timeLayout        = "2006-01-02T15:04:05.000Z"
	meteorIDAlphabet  = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
	tokenKindLogin    = "login"
	tokenKindPersonal = "personalAccessToken"
)

type user struct {
	id, username, name, email, password string
	roles                               []string
	totp                                string
	createdAt                           time.Time
}

func (u *user) hasRole(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(u.roles, r) {
			return true
		}
	}
	return false
}

type visitor struct {
	id, username, name, token string
}

type room struct {
	id, t, name, fname, prid string
	ts, lm                   time.Time
	changed                  time.Time  // the last message, a thread reply too (updated)
	msgs                     []*message // membership is the rooms' subscriptions (state.subs)
	v                        *visitor
}

type mention struct {
	id, username, name, typ string
}

type message struct {
	id, rid, msg, uid        string
	ts, updatedAt            time.Time
	tmid, alias, emoji, avat string
	attachments              json.RawMessage
	webhook                  bool // posted by chat.postMessage: "groupable":false
	mentions                 []mention
	channels                 []string
	tcount                   int
	tlm                      time.Time
	replies                  []string
	// set by chat.update, chat.react and chat.delete (messages.go)
	t         string // "rm" once a thread's first message is deleted
	editedAt  time.Time
	editedBy  string // user id
	reactions []reaction
}

type subscription struct {
	id, rid, uid, t, name, fname, prid  string
	ts, ls, lr, updatedAt               time.Time
	open, alert, f                      bool
	unread, userMentions, groupMentions int
	roles                               []string
	tunread, tunreadUser, tunreadGroup  []string
	v                                   *visitor
	log                                 *eventLog // the state's, for touch
}

type trashed struct {
	id, uid   string
	deletedAt time.Time
}

type tokenRec struct {
	uid, kind string
}

// state is the server's data; every access holds Server.mu.
type state struct {
	users   map[string]*user // by id
	rooms   map[string]*room
	msgs    map[string]*message
	subs    map[string]map[string]*subscription // uid -> rid -> sub
	subList map[string][]*subscription          // uid -> subs in creation order
	trash   []trashed
	tokens  map[string]tokenRec // hashed token -> owner
	idSeq   uint64
	events  eventLog // the changes to send to the DDP sessions (events.go)

	unreadCount UnreadCount // the Unread_Count setting (channels and groups)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newID returns a deterministic Meteor-like 17-character id.
func (st *state) newID() string {
	st.idSeq++
	x := st.idSeq*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	var b [17]byte
	for i := range b {
		x ^= x >> 29
		x *= 0xBF58476D1CE4E5B9
		x ^= x >> 32
		b[i] = meteorIDAlphabet[x%uint64(len(meteorIDAlphabet))]
	}
	return string(b[:])
}

func (st *state) userByName(name string) *user {
	for _, u := range st.users {
		if strings.EqualFold(u.username, name) {
			return u
		}
	}
	return nil
}

func (st *state) userByEmail(email string) *user {
	for _, u := range st.users {
		if u.email != "" && strings.EqualFold(u.email, email) {
			return u
		}
	}
	return nil
}

func (st *state) roomByName(name string) *room {
	for _, r := range st.rooms {
		if (r.t == "c" || r.t == "p") && r.name == name {
			return r
		}
	}
	return nil
}

func (st *state) sub(uid, rid string) *subscription {
	return st.subs[uid][rid]
}

func (st *state) addUser(u *user) {
	st.users[u.id] = u
}

func (st *state) addRoom(r *room) {
	st.rooms[r.id] = r
}

// members returns the subscriptions of r's members: a user is a member
// of a room exactly when subscribed to it.
func (st *state) members(r *room) []*subscription {
	var out []*subscription
	for _, byRoom := range st.subs {
		if s := byRoom[r.id]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// errNotAllowed is join's refusal.
var errNotAllowed = errors.New("not a member of the room, which is not a public channel")

// join makes u a member of r if it is not one yet, as posting does: a
// public channel is joined, any other room refused with errNotAllowed.
func (st *state) join(u *user, r *room, now time.Time) error {
	if st.sub(u.id, r.id) != nil {
		return nil
	}
	if r.t != "c" {
		return errNotAllowed
	}
	st.subscribe(u, r, now)
	return nil
}

// subscribe makes u a member of r: it creates u's subscription.
func (st *state) subscribe(u *user, r *room, now time.Time, roles ...string) *subscription {
	if s := st.sub(u.id, r.id); s != nil {
		return s
	}
	s := &subscription{
		id: st.newID(), rid: r.id, uid: u.id, t: r.t, name: r.name, fname: r.fname, prid: r.prid,
		ts: now, ls: now, updatedAt: now, open: true, roles: roles, v: r.v, log: &st.events,
	}
	if r.t == "d" { // named after the other member
		for _, o := range st.members(r) {
			if ou := st.users[o.uid]; ou != nil {
				s.name, s.fname = ou.username, ou.name
			}
		}
	}
	m := st.subs[u.id]
	if m == nil {
		m = make(map[string]*subscription)
		st.subs[u.id] = m
	}
	m[r.id] = s
	st.subList[u.id] = append(st.subList[u.id], s)
	st.events.subChanged(s, actionInserted)
	return s
}

// unsubscribe removes u's subscription of rid and moves it to the trash.
func (st *state) unsubscribe(uid, rid string, now time.Time) bool {
	s := st.sub(uid, rid)
	if s == nil {
		return false
	}
	delete(st.subs[uid], rid)
	st.subList[uid] = slices.DeleteFunc(st.subList[uid], func(x *subscription) bool { return x == s })
	st.trash = append(st.trash, trashed{id: s.id, uid: uid, deletedAt: now})
	st.events.subChanged(s, actionRemoved)
	return true
}

// dmRoom returns the direct room of a and b, creating it (and both
// subscriptions) when needed.
func (st *state) dmRoom(a, b *user, now time.Time) *room {
	ids := []string{a.id, b.id}
	slices.Sort(ids)
	id := ids[0] + ids[1]
	if r := st.rooms[id]; r != nil {
		return r
	}
	r := &room{id: id, t: "d", ts: now}
	st.addRoom(r)
	sa := st.subscribe(a, r, now)
	st.subscribe(b, r, now)
	sa.name, sa.fname = b.username, b.name // b was not a member yet when a subscribed
	return r
}

// parseMentions returns the names text mentions, as the server's
// MentionsParser reads them (its userMentionRegex with the default
// username pattern, [0-9a-zA-Z-_.]+): an @ at the start of the text or
// after white space, then the longest run of name characters, kept whole
// ("@rclua.bot." names "rclua.bot.", no user). An @ after anything else
// ("mail bob@x", "hey,@bob", "(@bob)", ">@bob", whose match keeps the >)
// is none, nor is a name followed by @host or :name (another server's
// user).
func parseMentions(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		if before, _ := utf8.DecodeLastRuneInString(text[:i]); i > 0 && !isJSSpace(before) {
			continue
		}
		j := i + 1
		for j < len(text) && isNameByte(text[j]) {
			j++
		}
		name := text[i+1 : j]
		if j+1 < len(text) && (text[j] == '@' || text[j] == ':') && isNameByte(text[j+1]) {
			name = "" // @user@host, @user:host: not a user of this server
		}
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
		i = j - 1
	}
	return out
}

// isJSSpace reports whether r is white space as JavaScript's \s reads it.
func isJSSpace(r rune) bool {
	return r == '\uFEFF' || r != '\u0085' && unicode.IsSpace(r)
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func addUnique(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

type newMessage struct {
	id                               string // chosen by the client; "" for a new one
	text, tmid, alias, emoji, avatar string
	attachments                      json.RawMessage
	webhook                          bool // chat.postMessage (processWebhookMessage): groupable false
}

// postMessage stores a message from sender in r and updates the members'
// subscriptions as the real server does (facts page §2.7): see
// notifyMembers for a message in the room and threadReply for a reply
// only in a thread.
func (st *state) postMessage(sender *user, r *room, nm newMessage, now time.Time) (*message, error) {
	var parent *message
	if nm.tmid != "" {
		parent = st.msgs[nm.tmid]
		if parent == nil || parent.rid != r.id {
			return nil, fmt.Errorf("thread message %q not found in room", nm.tmid)
		}
	}
	if nm.id == "" {
		nm.id = st.newID()
	}
	m := &message{
		id: nm.id, rid: r.id, msg: nm.text, uid: sender.id, ts: now, updatedAt: now,
		tmid: nm.tmid, alias: nm.alias, emoji: nm.emoji, avat: nm.avatar, attachments: nm.attachments,
		channels: []string{}, webhook: nm.webhook,
	}
	m.mentions = st.mentionsOf(nm.text)
	var mentioned []string // user ids, never the sender's (getMentions)
	group := false         // @all or @here
	for _, x := range m.mentions {
		switch {
		case x.id == "all" || x.id == "here":
			group = true
		case x.id != sender.id:
			mentioned = append(mentioned, x.id)
		}
	}
	st.msgs[m.id] = m
	r.msgs = append(r.msgs, m)
	r.changed = now
	st.emitMessage(m)
	if parent != nil {
		st.threadReply(sender, r, parent, mentioned, group, now)
		return m, nil
	}
	r.lm = now
	st.notifyMembers(sender, r, mentioned, group, now)
	return m, nil
}

// emitMessage sends m, new or changed (an edit: editedAt set), on the
// realtime streams (stream-room-messages "<rid>" and "__my_messages__")
// once s.mu is unlocked, as it is then. Every route that creates or
// changes a message calls it; postMessage and threadReply do.
func (st *state) emitMessage(m *message) {
	st.events.msgChanged(m)
}

// unreadSetting is the unread-count setting that applies to a room of
// type t: Unread_Count for channels and groups, the defaults of
// Unread_Count_DM and Unread_Count_Omni (all_messages) otherwise.
func (st *state) unreadSetting(t string) UnreadCount {
	if t == "c" || t == "p" {
		return st.unreadCount
	}
	return UnreadAllMessages
}

// notifyMembers updates the subscriptions for a new message in r (not only
// in a thread), as updateUsersSubscriptions does. A mentioned member gets
// userMentions+1; without any user mention, @all/@here gives every other
// member groupMentions+1 (user mentions have priority). unread grows for
// those mentions as the setting says (always in DMs and livechat), and for
// every message under all_messages. alert and open are set only where
// they are not set yet: a subscription none of this changes is not
// written at all (no new _updatedAt). The sender's own subscription is
// marked read.
func (st *state) notifyMembers(sender *user, r *room, mentioned []string, group bool, now time.Time) {
	setting := st.unreadSetting(r.t)
	direct := r.t == "d" || r.t == "l"
	incUser := direct || setting != UnreadGroupMentionsOnly
	incGroup := direct || setting != UnreadUserMentionsOnly
	for _, s := range st.members(r) {
		if s.uid == sender.id {
			s.markRead(false, false, now)
			continue
		}
		me := slices.Contains(mentioned, s.uid)
		changed := false
		switch {
		case me:
			s.userMentions++
			if incUser {
				s.unread++
			}
			changed = true
		case group && len(mentioned) == 0:
			s.groupMentions++
			if incGroup {
				s.unread++
			}
			changed = true
		}
		if !group && !me && setting == UnreadAllMessages {
			s.unread++
			changed = true
		}
		if !s.alert || !s.open {
			s.alert, s.open = true, true
			changed = true
		}
		if changed {
			s.touch(now)
		}
	}
}

// threadReply updates the thread and the subscriptions for a reply only in
// the thread of parent, as the server's thread hooks do: no unread or
// mention counter changes. The users notified (the thread's followers, or
// the parent's author for a first reply, plus the users mentioned) get
// alert, open and lr; the sender gets open and lr. Every follower but the
// sender then has the thread in tunread, a mentioned one also in
// tunreadUser, the others also in tunreadGroup for @all/@here.
func (st *state) threadReply(sender *user, r *room, parent *message, mentioned []string, group bool, now time.Time) {
	var notify []string
	if parent.tcount == 0 {
		notify = []string{parent.uid}
		if r.t == "d" {
			for _, s := range st.members(r) {
				notify = addUnique(notify, s.uid)
			}
		}
	} else {
		notify = slices.Clone(parent.replies)
	}
	for _, uid := range mentioned {
		notify = addUnique(notify, uid)
	}
	notify = slices.DeleteFunc(notify, func(uid string) bool { return uid == sender.id })
	for _, uid := range notify {
		if s := st.sub(uid, r.id); s != nil {
			s.alert, s.open, s.lr = true, true, now
			s.touch(now)
		}
	}
	if s := st.sub(sender.id, r.id); s != nil {
		s.open, s.lr = true, now
		s.touch(now)
	}

	if len(parent.replies) == 0 {
		parent.replies = []string{parent.uid}
	}
	for _, uid := range append(notify, sender.id) {
		parent.replies = addUnique(parent.replies, uid)
	}
	parent.tcount++
	parent.tlm = now
	parent.updatedAt = now
	st.emitMessage(parent) // the parent again, with its new tcount, tlm and replies
	for _, uid := range parent.replies {
		s := st.sub(uid, r.id)
		if s == nil || uid == sender.id {
			continue
		}
		s.tunread = addUnique(s.tunread, parent.id)
		switch {
		case slices.Contains(mentioned, uid):
			s.tunreadUser = addUnique(s.tunreadUser, parent.id)
		case group:
			s.tunreadGroup = addUnique(s.tunreadGroup, parent.id)
		}
		s.touch(now)
	}
}

// markRead marks s read as setAsReadByRoomIdAndUserId does: open, alert
// as given, the counters cleared, ls now; readThreads also clears tunread,
// tunreadUser and tunreadGroup.
func (s *subscription) markRead(alert, readThreads bool, now time.Time) {
	s.open, s.alert = true, alert
	s.unread, s.userMentions, s.groupMentions = 0, 0, 0
	if readThreads {
		s.tunread, s.tunreadUser, s.tunreadGroup = nil, nil, nil
	}
	s.ls = now
	s.touch(now)
}

// seed fills st with the default users, rooms, subscriptions and messages.
// now is the server's start time; everything is dated before it.
func (st *state) seed(now time.Time, extraSubs int, botRoles []string) {
	day := 24 * time.Hour
	t0 := now.Add(-30 * day)
	mk := func(id, username, name string, roles ...string) *user {
		u := &user{id: id, username: username, name: name, email: username + "@rclua.test",
			password: username + "-password", roles: roles, createdAt: t0}
		st.addUser(u)
		return u
	}
	bot := mk(BotUserID, BotUsername, BotName, botRoles...)
	alice := mk(AliceUserID, AliceUsername, "Alice Doe", "user")
	bob := mk(BobUserID, BobUsername, "Bob Smith", "user")
	carol := mk(CarolUserID, CarolUsername, "Carol Jones", "user")
	admin := mk(AdminUserID, AdminUsername, "Admin", "admin", "user")
	cat := mk(RocketCatUserID, RocketCatUsername, "Rocket.Cat", "bot")
	cat.password = ""
	cat.email = ""
	st.tokens[hashToken(BotToken)] = tokenRec{uid: BotUserID, kind: tokenKindPersonal}
	st.tokens[hashToken(AliceToken)] = tokenRec{uid: AliceUserID, kind: tokenKindPersonal}

	mkRoom := func(id, t, name, fname string, at time.Time, members ...*user) *room {
		r := &room{id: id, t: t, name: name, fname: fname, ts: at}
		st.addRoom(r)
		for i, u := range members {
			var roles []string
			if i == 0 {
				roles = []string{"owner"}
			}
			st.subscribe(u, r, at, roles...)
		}
		return r
	}
	post := func(from *user, r *room, at time.Time, text, tmid string) *message {
		m, err := st.postMessage(from, r, newMessage{text: text, tmid: tmid}, at)
		if err != nil {
			panic("rctest: bad seed: " + err.Error())
		}
		return m
	}
	markRead := func(u *user, r *room, at time.Time) { st.sub(u.id, r.id).markRead(false, true, at) }

	general := mkRoom(GeneralRoomID, "c", "general", "general", t0, admin, bot, alice, bob, carol, cat)
	random := mkRoom(RandomRoomID, "c", "random", "random", t0.Add(time.Hour), alice, bot, bob)
	ops := mkRoom(OpsRoomID, "p", "ops", "ops", t0.Add(2*time.Hour), admin, bot, bob)
	empty := mkRoom(EmptyRoomID, "c", "empty", "empty", t0.Add(3*time.Hour), alice, bot)
	nosub := mkRoom(NoSubRoomID, "c", "nosub", "nosub", t0.Add(4*time.Hour), alice, bob)
	disc := &room{id: DiscussionRoomID, t: "p", name: DiscussionRoomID, fname: "Release planning",
		prid: GeneralRoomID, ts: t0.Add(5 * time.Hour)}
	st.addRoom(disc)
	st.subscribe(alice, disc, disc.ts, "owner")
	st.subscribe(bot, disc, disc.ts)
	lc := &room{id: LivechatRoomID, t: "l", name: "guest-1", fname: "Guest One", ts: t0.Add(6 * time.Hour),
		v: &visitor{id: "rcluaVisitor00001", username: "guest-1", name: "Guest One", token: "visitor-token-1"}}
	st.addRoom(lc)
	st.subscribe(bot, lc, lc.ts)
	dm := st.dmRoom(alice, bot, t0.Add(7*time.Hour))
	_ = empty

	d := func(days int, h time.Duration) time.Time { return now.Add(-time.Duration(days)*day + h) }
	post(alice, general, d(20, 0), "Welcome to #general!", "")
	post(bot, general, d(20, time.Minute), "Hello, I am the rclua bot.", "") // marks general read for the bot
	post(bob, random, d(15, 0), "Anyone up for lunch?", "")
	post(alice, random, d(15, time.Minute), "Sure!", "")
	markRead(bot, random, d(15, 2*time.Minute))
	post(alice, nosub, d(14, 0), "This room has no bot.", "")
	post(alice, disc, d(12, 0), "Release 1.2 is planned for Friday.", "")
	markRead(bot, disc, d(12, time.Minute))
	post(cat, lc, d(11, 0), "A visitor is waiting.", "")
	markRead(bot, lc, d(11, time.Minute))
	// Unread activity for the bot (counted as the Unread_Count setting says).
	root := post(bot, general, d(2, 0), "Deploy of v1.3 starts in 10 minutes.", "")
	post(carol, general, d(1, 0), "@"+BotUsername+" can you post the changelog?", "")
	post(alice, general, d(1, time.Minute), "I will check the dashboards.", "")
	post(alice, general, d(1, 2*time.Minute), "Dashboards look fine.", root.id) // a reply to the bot's thread
	post(admin, ops, d(1, 3*time.Minute), "@all maintenance window tonight at 22:00.", "")
	post(alice, dm, d(0, -time.Hour), "Hi bot, are you there?", "")

	st.trash = append(st.trash, trashed{id: TrashedSubscriptionID, uid: BotUserID, deletedAt: now.Add(-10 * day)})

	for i := 1; i <= extraSubs; i++ {
		id := fmt.Sprintf("rcluaScale%07d", i)
		name := fmt.Sprintf("scale-%05d", i)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		r := &room{id: id, t: "c", name: name, fname: name, ts: at}
		st.addRoom(r)
		st.subscribe(bot, r, at)
	}
}
