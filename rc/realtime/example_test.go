package realtime_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/rc/realtime"
)

// A bot's loop: subscribe to the messages of its rooms, then read events.
func Example() {
	s := rctest.NewServer() // a fake server: it speaks DDP on /websocket
	defer s.Close()
	ctx := context.Background()

	c, err := realtime.Dial(ctx, s.URL, rctest.BotToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if _, err := c.SubscribeMyMessages(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "!ping"); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range c.Events() {
		switch {
		case ev.Kind == realtime.Connected || ev.Kind == realtime.Ready:
			fmt.Println(ev.Kind, ev.Seq) // after a reconnection: catch up through REST on Ready
		case ev.IsMessage():
			msg, room, err := ev.Message()
			if err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("%s in #%s (member: %v): %s\n", msg.User.Username, room.Name, room.Participant, msg.Msg)
			return
		}
	}
	// Output:
	// connected 1
	// ready 1
	// alice in #general (member: true): !ping
}

// Where the websocket does not get through (a proxy without websocket
// support), Dial says so and the caller can poll instead.
func ExampleDial_upgradeRefused() {
	s := rctest.NewServer()
	defer s.Close()
	s.RefuseUpgrade(true)

	_, err := realtime.Dial(context.Background(), s.URL, rctest.BotToken)
	if errors.Is(err, realtime.ErrUpgradeRefused) {
		fmt.Println("no realtime API: polling")
	}
	// Output:
	// no realtime API: polling
}
