package luabind_test

import (
	"context"
	"os"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
)

// oneRoom answers subscriptions.getOne from memory; the other methods of
// luabind.Subscriptions are not used here.
type oneRoom struct{ luabind.Subscriptions }

func (oneRoom) GetOneRaw(ctx context.Context, roomID string) ([]byte, error) {
	if roomID != "GENERAL" {
		return []byte(`{"subscription":null,"success":true}`), nil
	}
	return []byte(`{"subscription":{"rid":"GENERAL","name":"general","unread":3,"userMentions":1},"success":true}`), nil
}

func Example() {
	L := lua.NewState()
	defer L.Close()
	m := &luabind.Module{Subscriptions: oneRoom{}, Logger: zerolog.New(os.Stdout)}
	m.Open(L, nil)
	err := L.DoString(`
		local sub, err = rc.subscriptions.get_one("GENERAL")
		print(sub.name, sub.unread, sub.userMentions)
		print(rc.subscriptions.get_one("elsewhere"))
		rc.log.info("json", {out = rc.json.encode({ids = rc.json.array(), note = rc.json.null})})
		local ok, msg = pcall(rc.subscriptions.get_one, "")
		print(msg)
	`)
	if err != nil {
		panic(err)
	}
	// Output:
	// {"level":"info","message":"general\t3\t1"}
	// {"level":"info","message":"nil"}
	// {"level":"info","out":"{\"ids\":[],\"note\":null}","message":"json"}
	// {"level":"info","message":"<string>:6: bad argument #1 to rc.subscriptions.get_one (room_id must not be empty)"}
}
