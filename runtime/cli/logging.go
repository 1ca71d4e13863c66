package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

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
			FieldsExclude: []string{tracebackField}, FormatExtra: formatTraceback,
			FormatPrepare: escapeConsoleEvent, FormatFieldValue: formatConsoleValue,
			FormatErrFieldValue: func(v any) string { return errColor(formatConsoleValue(v), !tty) }}
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
		buf.WriteString(consoleEscape(line, true, false))
	}
	return nil
}

// escapeConsoleEvent is the console format's FormatPrepare: the message
// and the field names, which scripts choose (rc.log, print) and the
// console writer prints as they are, get their control characters and
// other non-printing runes escaped (consoleEscape), so that a script
// cannot write terminal escapes or break a line. The message keeps its
// tabs (print's separator). String field values need nothing: the writer
// quotes one holding anything but printable ASCII, with strconv.Quote;
// tables' JSON goes through formatConsoleValue.
func escapeConsoleEvent(evt map[string]any) error {
	if msg, ok := evt[zerolog.MessageFieldName].(string); ok {
		evt[zerolog.MessageFieldName] = consoleEscape(msg, true, false)
	}
	var renamed []string
	for k := range evt {
		if consoleEscape(k, false, false) != k {
			renamed = append(renamed, k)
		}
	}
	for _, k := range renamed {
		v := evt[k]
		delete(evt, k)
		evt[consoleEscape(k, false, false)] = v
	}
	return nil
}

// formatConsoleValue is the console format's FormatFieldValue. A value
// that is a table arrives as its JSON, which escapes the C0 controls but
// not DEL, the C1 controls (U+009B is a terminal's CSI) or format
// characters such as U+202E (right-to-left override): those become \u
// escapes, which keep the JSON valid. Strings arrive already quoted when
// they need it, numbers as digits.
func formatConsoleValue(v any) string {
	if b, ok := v.([]byte); ok {
		return consoleEscape(string(b), false, true)
	}
	return fmt.Sprintf("%s", v)
}

// errColor renders an error field's value as zerolog's console writer
// does, red and bold unless noColor or NO_COLOR is set.
func errColor(s string, noColor bool) string {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return s
	}
	return "\x1b[31m\x1b[1m" + s + "\x1b[0m\x1b[0m"
}

// consoleEscape returns s with every rune that is not printable (by
// unicode.IsPrint; the space is) escaped as Go writes it, \n, \x1b,
// \u202e, and each byte that is not UTF-8 as \xff; keepTab keeps tabs
// as they are. With inJSON, the escapes are JSON's: \u001b, and a
// surrogate pair above U+FFFF. Readable text, any script's letters
// included, is kept as is.
func consoleEscape(s string, keepTab, inJSON bool) string {
	clean := true
	for _, r := range s {
		if !(unicode.IsPrint(r) || r == ' ' || keepTab && r == '\t') || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r) || r == ' ' || keepTab && r == '\t':
			b.WriteString(s[i : i+size])
		case r == '\n' && !inJSON:
			b.WriteString(`\n`)
		case r == '\r' && !inJSON:
			b.WriteString(`\r`)
		case r == '\t' && !inJSON:
			b.WriteString(`\t`)
		case r < 0x80 && !inJSON:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case inJSON:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}
