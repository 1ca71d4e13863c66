package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
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

Flags, after the command (rclua store delete --help, say, shows its own):
  --state-dir D   the state dir (env RCLUA_STATE_DIR)
  --scripts S     the daemon's scripts folder, beside which its default
                  state dir is (env RCLUA_SCRIPTS)
  --all           delete only: all of SCRIPT's state

While a daemon runs on the state dir it holds the store's file lock: list
and get then ask it through its control socket (control.sock, which only
its user can open), and show the same; delete is refused until it stops.
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
		if strings.HasPrefix(verb, "-") {
			return usagef("store: %s before the command: the flags come after it (rclua store list %s ...)", verb, verb)
		}
		return usagef("store: unknown command %q: give list, get or delete (see rclua store --help)", verb)
	}
	fs, o := storeFlags(verb, getenv)
	if err := parseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	state, all := o.state, o.all
	want := map[string]int{"list": -1, "get": 2, "delete": 2}[verb]
	if all {
		want = 1
	}
	if (want >= 0 && fs.NArg() != want) || (want < 0 && fs.NArg() > 1) {
		return usagef("store %s: wrong arguments (see rclua store --help)", verb)
	}
	script := strings.TrimSuffix(fs.Arg(0), ".lua") // "a.lua" is script "a", as the control commands take it
	dir, err := resolveStateDir(state.dir, getenv, o.scripts, false)
	if err != nil {
		return err
	}
	// Only a daemon (or exec) makes a store: a mistyped --scripts or
	// --state-dir must not create one, delete included.
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store %s: no state in %s (it has no %s): give the daemon's --state-dir, or the --scripts it runs with", verb, dir, store.FileName)
	}
	db, err := store.Open(dir, store.Options{ReadOnly: verb != "delete", SweepEvery: -1})
	var rd storeReader
	switch {
	case errors.Is(err, store.ErrLocked) && verb == "delete":
		return fmt.Errorf("store delete: a running rclua daemon holds the state dir %s: stop it first to delete (list and get work while it runs)", dir)
	case errors.Is(err, store.ErrLocked):
		// The daemon serves list and get on its control socket.
		rd = daemonReader{c: newControlClient(dir), locked: err}
	case err != nil:
		return err
	default:
		defer db.Close()
		rd = fileReader{db}
	}
	switch {
	case verb == "list" && fs.NArg() == 0:
		scripts, err := rd.scripts(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SCRIPT\tKEYS")
		for _, s := range scripts {
			fmt.Fprintf(w, "%s\t%d\n", shownName(s.Name), s.Keys)
		}
		return w.Flush()
	case verb == "list":
		es, err := rd.entries(ctx, script)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			// A mistyped name must not look like a script with no keys
			// left: say so unless the script has state (its keys expired).
			if has, err := hasState(ctx, rd, script); err != nil || !has {
				return errors.Join(err, fmt.Errorf("store list: script %q has no state", script))
			}
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KEY\tBYTES\tEXPIRES")
		for _, e := range es {
			exp := "never"
			if e.Expires != nil {
				exp = e.Expires.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\n", strconv.Quote(e.Key), e.Bytes, exp)
		}
		return w.Flush()
	case verb == "get":
		v, err := rd.value(ctx, script, fs.Arg(1))
		if err != nil {
			return err
		}
		if !v.Found {
			return fmt.Errorf("store get: script %q has no key %q", script, fs.Arg(1))
		}
		_, err = fmt.Fprintf(stdout, "%s\n", v.Value)
		return err
	case all:
		found, err := db.Drop(ctx, script)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("store delete: script %q has no state", script)
		}
		fmt.Fprintf(stderr, "rclua store: deleted all of %q's state\n", script)
		return nil
	default:
		ns := db.Namespace(script)
		if _, ok, err := ns.Get(ctx, fs.Arg(1)); err != nil || !ok {
			return errors.Join(err, fmt.Errorf("store delete: script %q has no key %q", script, fs.Arg(1)))
		}
		return ns.Delete(ctx, fs.Arg(1))
	}
}

// hasState reports whether rclua store list would list the script name.
func hasState(ctx context.Context, rd storeReader, name string) (bool, error) {
	scripts, err := rd.scripts(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range scripts {
		if s.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// storeScript is a line of rclua store list: a script with state.
type storeScript struct {
	Name string `json:"name"`
	Keys int    `json:"keys"`
}

// storeEntry is a line of rclua store list SCRIPT: one live key.
type storeEntry struct {
	Key     string     `json:"key"`
	Bytes   int        `json:"bytes"`             // of its JSON value
	Expires *time.Time `json:"expires,omitempty"` // nil: never
}

// storeValue is rclua store get's answer: the key's JSON text, when found.
type storeValue struct {
	Found bool   `json:"found"`
	Value string `json:"value,omitempty"`
}

// storeReader is what rclua store list and get read: the store's file
// (fileReader), or, while a daemon holds its lock, the daemon's control
// socket (daemonReader).
type storeReader interface {
	scripts(ctx context.Context) ([]storeScript, error)
	entries(ctx context.Context, script string) ([]storeEntry, error)
	value(ctx context.Context, script, key string) (storeValue, error)
}

// fileReader reads an open store: rclua store's own, or the daemon's when
// it serves the control socket's /store routes.
type fileReader struct{ db *store.DB }

func (r fileReader) scripts(ctx context.Context) ([]storeScript, error) {
	names, err := r.db.Names()
	if err != nil {
		return nil, err
	}
	out := make([]storeScript, 0, len(names))
	for _, name := range names {
		es, err := r.db.List(ctx, name, "")
		if err != nil {
			return nil, err
		}
		out = append(out, storeScript{Name: name, Keys: len(es)})
	}
	return out, nil
}

func (r fileReader) entries(ctx context.Context, script string) ([]storeEntry, error) {
	es, err := r.db.List(ctx, script, "")
	if err != nil {
		return nil, err
	}
	out := make([]storeEntry, 0, len(es))
	for _, e := range es {
		se := storeEntry{Key: e.Key, Bytes: e.Size}
		if !e.Expires.IsZero() {
			se.Expires = &e.Expires
		}
		out = append(out, se)
	}
	return out, nil
}

func (r fileReader) value(ctx context.Context, script, key string) (storeValue, error) {
	v, ok, err := r.db.Namespace(script).Get(ctx, key)
	return storeValue{Found: ok, Value: string(v)}, err
}

// daemonReader asks the daemon that holds the store's lock (locked, the
// error of the open) through its control socket.
type daemonReader struct {
	c      *controlClient
	locked error
}

func (r daemonReader) get(ctx context.Context, path string, q url.Values, out any) error {
	if err := r.c.get(ctx, path+"?"+q.Encode(), out); err != nil {
		return fmt.Errorf("%w; asking the daemon through its control socket failed: %w", r.locked, err)
	}
	return nil
}

func (r daemonReader) scripts(ctx context.Context) ([]storeScript, error) {
	var out []storeScript
	err := r.get(ctx, "/store/list", nil, &out)
	return out, err
}

func (r daemonReader) entries(ctx context.Context, script string) ([]storeEntry, error) {
	var out []storeEntry
	err := r.get(ctx, "/store/list", url.Values{"script": {script}}, &out)
	return out, err
}

func (r daemonReader) value(ctx context.Context, script, key string) (storeValue, error) {
	var out storeValue
	err := r.get(ctx, "/store/get", url.Values{"script": {script}, "key": {key}}, &out)
	return out, err
}

// shownName is a script's name as the CLI prints it: quoted when it holds
// what a terminal would take as commands (watch.BadName: a state left by
// an older rclua that loaded such a file).
func shownName(name string) string {
	if watch.BadName(name) {
		return strconv.Quote(name)
	}
	return name
}

// storeOpts are the flags of store list, get and delete.
type storeOpts struct {
	daemonDirFlags
	all bool // delete only
}

// storeFlags returns the flag set of "rclua store verb" and the options
// it fills.
func storeFlags(verb string, getenv func(string) string) (*flag.FlagSet, *storeOpts) {
	fs := newFlagSet("store "+verb, storeHelp)
	o := &storeOpts{}
	o.register(fs, getenv)
	if verb == "delete" {
		fs.BoolVar(&o.all, "all", false, "delete all of SCRIPT's state")
	}
	return fs, o
}
