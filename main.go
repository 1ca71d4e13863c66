// Command rclua hosts Lua automation scripts for a Rocket.Chat server. The
// command is package runtime/cli; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rclua/rclua/runtime/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
