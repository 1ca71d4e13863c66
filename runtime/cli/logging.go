package cli

import (
	"bytes"
	"flag"
	"io"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// logFlags are the logging flags every command shares.
type logFlags struct {
	level  string
	format string
}

func (lf *logFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&lf.level, "log-level", envOr(getenv, envLogLevel, "info"),
		"log level: debug, info, warn or error (env "+envLogLevel+")")
	fs.StringVar(&lf.format, "log-format", getenv(envLogFormat),
		"log format: json or console (default: console on a terminal, json otherwise; env "+envLogFormat+")")
}

// logLevels are the levels --log-level takes: zerolog's parser also takes
// trace, fatal, panic, disabled and numbers, which would hide errors or
// flood the log.
var logLevels = map[string]zerolog.Level{
	"debug": zerolog.DebugLevel, "info": zerolog.InfoLevel, "warn": zerolog.WarnLevel, "error": zerolog.ErrorLevel,
}

// newLogger builds the program's logger writing to w. The console format is
// the default when w is a terminal, JSON otherwise.
func (lf logFlags) newLogger(w io.Writer) (zerolog.Logger, error) {
	level, ok := logLevels[strings.ToLower(strings.TrimSpace(lf.level))]
	if !ok {
		return zerolog.Nop(), usagef("log level %q: want debug, info, warn or error (--log-level or %s)", lf.level, envLogLevel)
	}
	tty := isTerminal(w)
	format := strings.ToLower(strings.TrimSpace(lf.format))
	if format == "" {
		format = "json"
		if tty {
			format = "console"
		}
	}
	var out io.Writer
	switch format {
	case "json":
		out = w
	case "console":
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !tty,
			FieldsExclude: []string{tracebackField}, FormatExtra: formatTraceback}
	default:
		return zerolog.Nop(), usagef("log format %q: want json or console (--log-format or %s)", lf.format, envLogFormat)
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// tracebackField is the field in which the host logs a Lua traceback.
const tracebackField = "traceback"

// formatTraceback writes the traceback of a console line under it, a frame
// a line and indented, instead of as a quoted field full of \n\t.
func formatTraceback(evt map[string]any, buf *bytes.Buffer) error {
	tb, ok := evt[tracebackField].(string)
	if !ok || tb == "" {
		return nil
	}
	for _, line := range strings.Split(strings.TrimRight(tb, "\n"), "\n") {
		buf.WriteString("\n    ")
		buf.WriteString(line)
	}
	return nil
}
