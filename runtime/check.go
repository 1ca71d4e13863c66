package runtime

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
)

// Check compiles and loads every given script (a folder stands for its
// *.lua files, see ScriptFiles) in the sandbox, with luabind's offline
// module, whose every call fails with "no network in check mode", and an
// rc.store in memory, empty at the start of the check. It
// returns one error per failing script or unusable path, each
// "file:line: message"; nil when all pass.
func Check(ctx context.Context, paths []string, cfg Config) []error {
	cfg = cfg.withDefaults()
	mem := store.OpenMemory(store.Options{SweepEvery: -1})
	defer mem.Close()
	e := env{module: luabind.Offline(zerolog.Nop()), store: mem}
	files, errs := ScriptFiles(paths)
	for _, p := range files {
		content, err := watch.ReadScript(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		if err := runOnce(ctx, p, content, cfg, e, modeCheck, zerolog.Nop()); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
