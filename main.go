// Command rclua hosts Lua automation scripts for a Rocket.Chat server. The
// command is package runtime/cli; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // CRON_TZ= and t.start's zones on a machine without a zone database (a scratch container)

	"github.com/rclua/rclua/runtime/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
