package luabind

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// meteorID returns a deterministic 17-character Meteor-style id.
func meteorID(r *rand.Rand) string {
	const alphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
	var b [17]byte
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b[:])
}

// subscriptionJSON renders one realistic subscription object with the
// fields of rocketchat-api.md §2.5/§2.6.
func subscriptionJSON(sb *strings.Builder, r *rand.Rand, i int, botID string) {
	base := time.Date(2024, 2, 15, 7, 17, 38, 547e6, time.UTC)
	iso := func(d time.Duration) string { return base.Add(d).Format("2006-01-02T15:04:05.000Z07:00") }
	types := []string{"c", "c", "p", "d"}
	t := types[i%len(types)]
	name := fmt.Sprintf("room-%d", i)
	fname := fmt.Sprintf("Room number %d", i)
	if t == "d" {
		name = fmt.Sprintf("user%d", i)
		fname = fmt.Sprintf("User %d Doe", i)
	}
	fmt.Fprintf(sb, `{"_id":%q,"rid":%q,"t":%q,"name":%q,"fname":%q,"ts":%q,"ls":%q,"lr":%q,`,
		meteorID(r), meteorID(r), t, name, fname,
		iso(time.Duration(i)*time.Minute), iso(time.Duration(i)*time.Hour), iso(time.Duration(i)*time.Hour+time.Second))
	fmt.Fprintf(sb, `"u":{"_id":%q,"username":"rclua.bot","name":"rclua bot"},"open":%t,"alert":%t,`,
		botID, i%7 != 0, i%3 == 0)
	fmt.Fprintf(sb, `"unread":%d,"userMentions":%d,"groupMentions":%d,`, i%40, i%5, i%2)
	if i%10 == 0 {
		sb.WriteString(`"roles":["owner"],`)
	}
	if i%9 == 0 {
		fmt.Fprintf(sb, `"tunread":[%q,%q],`, meteorID(r), meteorID(r))
	}
	fmt.Fprintf(sb, `"f":%t,"disableNotifications":false,"hideUnreadStatus":false,"emailNotifications":"mentions",`+
		`"desktopNotifications":"all","mobilePushNotifications":"mentions","audioNotificationValue":"beep",`+
		`"unreadAlert":"default","_updatedAt":%q}`, i%11 == 0, iso(time.Duration(i)*time.Hour+2*time.Second))
}

// subscriptionsBody is a subscriptions.get response body with n
// subscriptions and a few removed ones.
func subscriptionsBody(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	botID := meteorID(r)
	var sb strings.Builder
	sb.Grow(n * 620)
	sb.WriteString(`{"update":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		subscriptionJSON(&sb, r, i, botID)
	}
	sb.WriteString(`],"remove":[`)
	for i := range 3 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"_id":%q,"_deletedAt":"2024-07-02T12:00:0%d.123Z"}`, meteorID(r), i)
	}
	sb.WriteString(`],"success":true}`)
	return []byte(sb.String())
}

// getOneBody is a subscriptions.getOne response body (§2.6).
const getOneBody = `{"subscription":{"_id":"Rd8qisB7G4tF4Fibu","open":true,"alert":false,"unread":0,"userMentions":0,"groupMentions":0,` +
	`"ts":"2018-03-12T17:52:13.041Z","rid":"5of4weEXaH7yncxz9","name":"test","fname":"test","t":"p",` +
	`"u":{"_id":"47cRd58HnWwpqxhaZ","username":"rocket.cat","name":"Rocket Cat"},` +
	`"ls":"2018-03-12T17:52:13.041Z","_updatedAt":"2018-03-13T19:36:27.696Z","roles":["owner"],` +
	`"disableNotifications":false,"emailNotifications":"nothing","audioNotificationValue":"beep",` +
	`"mobilePushNotifications":"mentions","f":false},"success":true}`
