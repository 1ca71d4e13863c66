package rc_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// The bot looks at a room's subscription and answers when it was
// mentioned. rctest stands in for a Rocket.Chat server.
func Example() {
	srv := rctest.NewServer()
	defer srv.Close()

	c, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Subscriptions.Read(ctx, rctest.GeneralRoomID, nil); err != nil {
		log.Fatal(err)
	}
	// Someone mentions the bot.
	if _, err := srv.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "@"+rctest.BotUsername+" ping"); err != nil {
		log.Fatal(err)
	}

	s, err := c.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d unread, %d mention(s)\n", s.Name, s.Unread, s.UserMentions)
	if s.UserMentions > 0 {
		msg, err := c.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: s.RoomID, Text: "pong"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("answered:", msg.Msg)
		if err := c.Subscriptions.Read(ctx, s.RoomID, nil); err != nil {
			log.Fatal(err)
		}
	}

	// A token client never logs out: the server would delete the token.
	err = c.Logout(ctx)
	fmt.Println(errors.Is(err, rc.ErrNotLoggedIn))
	// Output:
	// general: 1 unread, 1 mention(s)
	// answered: pong
	// true
}

// Errors the server reports are *rc.Error, matched with errors.Is.
func ExampleError() {
	srv := rctest.NewServer()
	defer srv.Close()
	c, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, "not-the-token"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Me(context.Background())
	fmt.Println(errors.Is(err, rc.ErrUnauthorized))
	var e *rc.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Message)
	}
	// Output:
	// true
	// 401 You must be logged in to do this.
}
