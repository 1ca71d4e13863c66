package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rclua/rclua/luabind"
)

// MaxSecretBytes bounds a secret file.
const MaxSecretBytes = 64 << 10

// SecretEnvPrefix starts the environment variable of a secret:
// RCLUA_SECRET_API_KEY holds the secret api_key.
const SecretEnvPrefix = "RCLUA_SECRET_"

var secretName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// CheckSecretName refuses a name rc.secret would never find: a secret's
// name is lower-case letters, digits and _, starting with a letter, at
// most 64 bytes.
func CheckSecretName(name string) error {
	if !secretName.MatchString(name) {
		return fmt.Errorf("%q is not a secret name (lower-case letters, digits and _, starting with a letter, at most 64)", clipText(name, 64))
	}
	return nil
}

// secretSource reads secrets: from the environment first, then from a
// file of the secrets folder.
type secretSource struct {
	dir    string              // "" when none is configured
	getenv func(string) string // never nil
	// placeholder (check mode): read nothing, give "<secret name>" for
	// every allowed name.
	placeholder bool
}

// read returns the secret name, or an error holding no value.
func (s secretSource) read(name string) (string, error) {
	if s.placeholder {
		return "<secret " + name + ">", nil
	}
	env := SecretEnvPrefix + strings.ToUpper(name)
	if v := s.getenv(env); v != "" {
		return v, nil
	}
	if s.dir == "" {
		return "", fmt.Errorf("secret %q is not set: no %s in the environment and no secrets folder (--secrets-dir)", name, env)
	}
	path := filepath.Join(s.dir, name)
	fi, err := os.Stat(path) // following symlinks: Kubernetes mounts them
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("secret %q is not set: no %s in the environment and no file %s", name, env, path)
	}
	if err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret %q: %s is not a regular file", name, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return "", fmt.Errorf("secret %q: reading %s: %w", name, path, err)
	}
	if len(b) > MaxSecretBytes {
		return "", fmt.Errorf("secret %q: %s is larger than the limit of %d bytes", name, path, MaxSecretBytes)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("secret %q: %s is empty", name, path)
	}
	return v, nil
}

// secretsFor returns the rc.secret of the script name: only the names
// allowed lists at the time of the call.
func (s secretSource) secretsFor(name string, allowed func() []string) *luabind.Secrets {
	return &luabind.Secrets{Lookup: func(secret string) (string, error) {
		if err := CheckSecretName(secret); err != nil {
			return "", err
		}
		if !slices.Contains(allowed(), secret) {
			return "", fmt.Errorf("secret %q is not allowed for script %q: list it in secrets = [...] of its [%s] section in %s", secret, name, name, SettingsFile)
		}
		return s.read(secret)
	}}
}

// redactErr returns err with the secret values s handed out hidden from
// its message and traceback.
func redactErr(s *luabind.Secrets, err error) error {
	if err == nil || s == nil {
		return err
	}
	if se, ok := err.(*scriptError); ok {
		c := *se
		c.Msg, c.Traceback = s.Redact(c.Msg), s.Redact(c.Traceback)
		return &c
	}
	if r := s.Redact(err.Error()); r != err.Error() {
		return errors.New(r)
	}
	return err
}
