package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/lint"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
)

// Check compiles and loads every given script (a folder stands for its
// *.lua files, see ScriptFiles) in the sandbox, each top level within
// cfg.LoadTimeout and under the memory watchdog (cfg.MemoryLimit), with
// luabind's offline module, whose every call fails with "no network in
// check mode", and an rc.store in memory, empty at the start of the
// check. It then reads its whole syntax tree with package lint: rc paths that do not exist, globals
// read but never defined (a global that a module the script requires by a
// constant name assigns is defined) and constant rc.every and rc.cron
// arguments they refuse, in handlers too. It returns one error per failing
// script or unusable path and one per finding, each "file:line: message",
// in file and line order; nil when all pass. A script that does not
// compile has only its syntax error; a finding on the line where the load
// failed is not repeated, or, when it names a missing value (library
// field, global, rc path), replaces the load's error if that is
// gopher-lua's "attempt to call a non-function object", which names
// nothing. A settings file that does not parse is reported
// once, and the scripts of its folder are then checked without being
// loaded. The modules of the lib/ folder beside the scripts (a symlinked
// lib/ too) are compiled and read by the lint as well (each finding
// "lib/name.lua:line: message"), a module named as a standard library is
// refused, and a script requiring a missing or broken module fails.
func Check(ctx context.Context, paths []string, cfg Config) []error {
	cfg = cfg.withDefaults()
	// Secrets: placeholders for the names the settings allow.
	mem := store.OpenMemory(store.Options{SweepEvery: -1})
	defer mem.Close()
	e := env{module: luabind.Offline(zerolog.Nop()), secrets: secretSource{placeholder: true}, store: mem}
	api := checkAPI(cfg, e)
	files, errs := ScriptFiles(paths)
	errs = append(errs, checkModules(api, files)...)
	settingsErrs, broken := checkSettings(files)
	errs = append(errs, settingsErrs...)
	for _, p := range files {
		content, err := watch.ReadScript(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		var loadErr error
		if !broken[filepath.Dir(p)] { // it would fail on the settings, reported once above
			loadErr = runOnce(ctx, p, content, cfg, e, modeCheck, false, zerolog.Nop())
		}
		if loadErr != nil && !strings.HasPrefix(loadErr.Error(), p+":") {
			// A module's error (lib/util.lua:2: ... (required as "util")),
			// reported for the module too: name the script it failed.
			loadErr = fmt.Errorf("%s: %w", p, loadErr)
		}
		var syntax *sandbox.SyntaxError
		if errors.As(loadErr, &syntax) {
			errs = append(errs, loadErr) // the parser would fail the same way, or the source is beyond the limits
			continue
		}
		errs = append(errs, scriptFindings(api, p, content, loadErr, moduleSource(filepath.Dir(p)))...)
	}
	return errs
}

// moduleSource finds the modules of the lib/ folder beside the scripts in
// dir as require does, for the lint.
func moduleSource(dir string) lint.ModuleSource {
	mods := newModules(dir)
	return func(name string) ([]byte, bool) {
		_, src, err := mods.find(name)
		return src, err == nil
	}
}

// checkModules compiles and lints every module of the lib/ folders beside
// files, following a symlinked lib/ as the daemon's watcher does.
func checkModules(api *lint.API, files []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		lib := filepath.Join(dir, LibDir)
		root, err := filepath.EvalSymlinks(lib) // WalkDir does not descend a symlinked root
		if err != nil {
			continue // no lib/
		}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !watch.IsScript(d.Name()) {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			shown := filepath.Join(lib, rel) // named as the scripts see it
			content, err := watch.ReadScript(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", shown, pathErr(err)))
				return nil
			}
			if name := strings.TrimSuffix(filepath.ToSlash(rel), ".lua"); sandbox.IsLibraryName(name) {
				errs = append(errs, fmt.Errorf("%s: a module cannot be named %s: require(%q) is the standard library, never this file", shown, name, name))
				return nil
			}
			L := sandbox.New(sandbox.Options{})
			defer L.Close()
			if _, err := sandbox.Compile(L, shown, content); err != nil {
				errs = append(errs, err)
				return nil
			}
			errs = append(errs, scriptFindings(api, shown, content, nil, moduleSource(dir))...)
			return nil
		})
	}
	return errs
}

// checkSettings parses the settings file of every folder holding files
// and reports a section naming no script of its folder (a typo would
// leave a script without its settings); broken holds the folders whose
// settings file does not parse.
func checkSettings(files []string) (errs []error, broken map[string]bool) {
	broken = map[string]bool{}
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		set, err := readSettings(dir)
		if err != nil {
			errs = append(errs, err)
			broken[dir] = true
			continue
		}
		scripts, _ := ScriptFiles([]string{dir})
		known := map[string]bool{}
		for _, s := range scripts {
			known[scriptBaseName(filepath.Base(s))] = true
		}
		names := make([]string, 0, len(set))
		for name := range set {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !known[name] {
				errs = append(errs, fmt.Errorf("%s: section [%s] names no script of the folder (no %s.lua)", filepath.Join(dir, SettingsFile), name, name))
			}
		}
	}
	return errs, broken
}

// scriptFindings returns loadErr (when not nil) and the findings of the
// script (or module) at path, in line order, without those on loadErr's
// line; find gives the modules it requires.
func scriptFindings(api *lint.API, path string, content []byte, loadErr error, find lint.ModuleSource) []error {
	findings, err := api.CheckModules(path, content, find)
	if err != nil { // it compiled, so it parses: not reached
		findings = nil
	}
	type lineErr struct {
		line int
		err  error
	}
	var out []lineErr
	loadLine := -1
	if loadErr != nil {
		loadLine = errorLine(path, loadErr.Error())
		// gopher-lua's "attempt to call a non-function object" names
		// nothing: a finding on its line of a missing value says what
		// (table.unpack does not exist), and is reported instead.
		explained := genericLoadError(loadErr.Error()) && slices.ContainsFunc(findings, func(f lint.Finding) bool {
			return f.Line == loadLine && callsNil(f.Kind)
		})
		if !explained {
			out = append(out, lineErr{loadLine, loadErr})
		} else {
			loadLine = -1
		}
	}
	for _, f := range findings {
		if f.Line != loadLine {
			out = append(out, lineErr{f.Line, fmt.Errorf("%s:%d: %s", path, f.Line, f.Message)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	errs := make([]error, len(out))
	for i, le := range out {
		errs[i] = le.err
	}
	return errs
}

// genericLoadError reports whether msg is gopher-lua's error for a call
// of a value that is no function, which names nothing.
func genericLoadError(msg string) bool {
	return strings.Contains(msg, "attempt to call a non-function object")
}

// callsNil reports whether a finding of kind names a value that is nil
// where it is read (a missing library field, global or rc path): the
// value a generic call error is about.
func callsNil(kind string) bool {
	return kind == lint.KindLibrary || kind == lint.KindGlobal || kind == lint.KindRCPath
}

// errorLine returns the line of msg, "path:line: ...", or 0.
func errorLine(path, msg string) int {
	rest, ok := strings.CutPrefix(msg, path+":")
	if !ok {
		return 0
	}
	digits, _, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(digits)
	return n
}

// checkAPI reads what scripts may use from a state built as runOnce builds
// theirs, so that new globals and rc namespaces are known to the static
// check without a list of its own.
func checkAPI(cfg Config, e env) *lint.API {
	L := sandbox.New(sandbox.Options{Unsafe: cfg.Unsafe})
	defer L.Close()
	e.openState(L, cfg, "", zerolog.Nop(), newRegistry(modeCheck, zerolog.Nop()), nil, nil, nil)
	return lint.FromState(L, cfg.minEvery)
}
