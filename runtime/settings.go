package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/BurntSushi/toml"
)

// SettingsFile is the settings file of a scripts folder: TOML, one
// section per script ([mention_alert] for mention_alert.lua), which the
// script reads as rc.config.
const SettingsFile = "rclua.toml"

// secretsKey is the key of a section listing the secrets its script may
// read with rc.secret.
const secretsKey = "secrets"

// settings are the sections of a settings file, by script name.
type settings map[string]map[string]any

// parseSettings parses the content of a settings file named name. Its
// errors read "name:line: message".
func parseSettings(name string, content []byte) (settings, error) {
	var raw map[string]any
	_, err := toml.Decode(string(content), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := settings{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sec, ok := raw[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %q = ... is outside any section: every setting goes under its script's [name]", name, k)
		}
		if err := CheckSection(sec); err != nil {
			return nil, fmt.Errorf("%s: [%s] %w", name, k, err)
		}
		out[k] = sec
	}
	return out, nil
}

// CheckSection checks a script's section of settings (what rc.config
// returns) as the settings file's reader does: its secrets key, when
// present, is an array of secret names. runtime/scripttest checks the
// sections of t.config with it.
func CheckSection(sec map[string]any) error {
	if v, ok := sec[secretsKey]; ok {
		if err := checkSecretList(v); err != nil {
			return fmt.Errorf("%s: %w", secretsKey, err)
		}
	}
	return nil
}

// checkSecretList checks a section's secrets value: an array of secret
// names.
func checkSecretList(v any) error {
	list, ok := v.([]any)
	if !ok {
		return errors.New(`must be an array of secret names: secrets = ["api_key"]`)
	}
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return fmt.Errorf("%v is not a string", e)
		}
		if err := CheckSecretName(s); err != nil {
			return err
		}
	}
	return nil
}

// section returns the settings of the script name (nil when none).
func (s settings) section(name string) map[string]any { return s[name] }

// allowedSecrets returns the secret names the section of the script name
// lists.
func (s settings) allowedSecrets(name string) []string {
	list, _ := s[name][secretsKey].([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if n, ok := e.(string); ok {
			out = append(out, n)
		}
	}
	return out
}

// changed returns the script names whose section differs between s and
// next, sorted.
func (s settings) changed(next settings) []string {
	var out []string
	for name, sec := range s {
		if !reflect.DeepEqual(sec, next[name]) {
			out = append(out, name)
		}
	}
	for name := range next {
		if _, ok := s[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
