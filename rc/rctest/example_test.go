package rctest_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/rclua/rclua/rc/rctest"
)

func ExampleNewServer() {
	s := rctest.NewServer()
	defer s.Close()

	// Alice mentions the bot in #general. The seed has one mention there
	// already; plain messages, as on a real server's default settings,
	// set alert but count in neither number.
	if _, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "@"+rctest.BotUsername+" ping"); err != nil {
		fmt.Println(err)
		return
	}
	sub, _ := s.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	fmt.Println("unread:", sub.Unread, "mentions:", sub.UserMentions, "alert:", sub.Alert)

	// The bot reads it over REST with its personal access token.
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/subscriptions.getOne?roomId=nowhere", nil)
	req.Header.Set("X-User-Id", rctest.BotUserID)
	req.Header.Set("X-Auth-Token", rctest.BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// unread: 2 mentions: 2 alert: true
	// 200 {"subscription":null,"success":true}
}
