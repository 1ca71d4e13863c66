package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/rclua/rclua/runtime/store"
)

const storeHelp = `rclua store list|get|delete [flags] [SCRIPT [KEY]]

Inspects and cleans the scripts' persistent state (rc.store) in the state
dir, which is found as "rclua run" finds it (--state-dir, RCLUA_STATE_DIR,
$STATE_DIRECTORY, else .rclua-state beside --scripts).

  rclua store list                 the scripts that have state, with their key counts
  rclua store list SCRIPT          SCRIPT's keys, with their sizes and expiries
  rclua store get SCRIPT KEY       prints KEY's value as JSON
  rclua store delete SCRIPT KEY    deletes one key
  rclua store delete --all SCRIPT  deletes all of SCRIPT's state (a deleted script's file keeps it)

A running daemon holds the store's file lock exclusively, and bbolt's
read-only open needs a shared one: list and get, like delete, fail at once
while a daemon runs on the same state dir ("another rclua holds ..."). Stop
it (or inspect a copy of store.db in another folder with --state-dir).
`

func cmdStore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storeHelp)
		return usagef("store: give list, get or delete (see rclua store --help)")
	}
	verb := args[0]
	switch verb {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, storeHelp)
		return nil
	case "list", "get", "delete":
	default:
		return usagef("store: unknown command %q: give list, get or delete (see rclua store --help)", verb)
	}
	fs := newFlagSet("store "+verb, storeHelp)
	var state stateFlags
	state.register(fs, getenv, false)
	scripts := fs.String("scripts", envOr(getenv, envScripts, defaultScripts), "scripts folder, beside which the default state dir is (env "+envScripts+")")
	all := false
	if verb == "delete" {
		fs.BoolVar(&all, "all", false, "delete all of SCRIPT's state")
	}
	if err := parseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	want := map[string]int{"list": -1, "get": 2, "delete": 2}[verb]
	if all {
		want = 1
	}
	if (want >= 0 && fs.NArg() != want) || (want < 0 && fs.NArg() > 1) {
		return usagef("store %s: wrong arguments (see rclua store --help)", verb)
	}
	dir, err := resolveStateDir(state.dir, getenv, *scripts, false)
	if err != nil {
		return err
	}
	// Only a daemon (or exec) makes a store: a mistyped --scripts or
	// --state-dir must not create one, delete included.
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store %s: no state in %s (it has no %s): give the daemon's --state-dir, or the --scripts it runs with", verb, dir, store.FileName)
	}
	db, err := store.Open(dir, store.Options{ReadOnly: verb != "delete", SweepEvery: -1})
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case verb == "list" && fs.NArg() == 0:
		names, err := db.Names()
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SCRIPT\tKEYS")
		for _, name := range names {
			es, err := db.List(ctx, name, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%d\n", name, len(es))
		}
		return w.Flush()
	case verb == "list":
		es, err := db.List(ctx, fs.Arg(0), "")
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KEY\tBYTES\tEXPIRES")
		for _, e := range es {
			exp := "never"
			if !e.Expires.IsZero() {
				exp = e.Expires.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\n", strconv.Quote(e.Key), e.Size, exp)
		}
		return w.Flush()
	case verb == "get":
		v, ok, err := db.Namespace(fs.Arg(0)).Get(ctx, fs.Arg(1))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("store get: script %q has no key %q", fs.Arg(0), fs.Arg(1))
		}
		_, err = fmt.Fprintf(stdout, "%s\n", v)
		return err
	case all:
		found, err := db.Drop(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("store delete: script %q has no state", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "rclua store: deleted all of %q's state\n", fs.Arg(0))
		return nil
	default:
		ns := db.Namespace(fs.Arg(0))
		if _, ok, err := ns.Get(ctx, fs.Arg(1)); err != nil || !ok {
			return errors.Join(err, fmt.Errorf("store delete: script %q has no key %q", fs.Arg(0), fs.Arg(1)))
		}
		return ns.Delete(ctx, fs.Arg(1))
	}
}
