package luabind

import (
	"errors"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// luabindAPIBlock returns the code block that follows the "# Lua API"
// heading of package luabind's doc comment.
func luabindAPIBlock() (string, error) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	var docs []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return "", err
		}
		if f.Doc != nil {
			docs = append(docs, f.Doc.Text())
		}
	}
	var p comment.Parser
	for _, text := range docs {
		found := false
		for _, block := range p.Parse(text).Content {
			switch b := block.(type) {
			case *comment.Heading:
				found = headingText(b) == "Lua API"
			case *comment.Code:
				if found {
					return b.Text, nil
				}
			}
		}
	}
	return "", errors.New(`package luabind's doc has no code block after a "# Lua API" heading`)
}

func headingText(h *comment.Heading) string {
	var b strings.Builder
	for _, t := range h.Text {
		if p, ok := t.(comment.Plain); ok {
			b.WriteString(string(p))
		}
	}
	return strings.TrimSpace(b.String())
}

// readmeAPIBlock returns the first fenced code block after the README's
// "## Lua API" heading.
func readmeAPIBlock(readme string) (string, error) {
	_, after, ok := strings.Cut(readme, "\n## Lua API\n")
	if !ok {
		return "", errors.New(`README.md has no "## Lua API" section`)
	}
	_, after, ok = strings.Cut(after, "```lua\n")
	if !ok {
		return "", errors.New("README.md's Lua API section has no ```lua block")
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		return "", errors.New("README.md's Lua API block is not closed")
	}
	return block, nil
}

// normalizeSpace collapses every run of white space to one space.
func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestReadmeLuaAPIMatchesLuabind keeps the README's Lua API reference and
// luabind's package doc identical (up to white space).
func TestReadmeLuaAPIMatchesLuabind(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	fromReadme, err := readmeAPIBlock(string(readme))
	require.NoError(t, err)
	fromDoc, err := luabindAPIBlock()
	require.NoError(t, err)
	assert.Equal(t, normalizeSpace(fromDoc), normalizeSpace(fromReadme),
		"README.md's Lua API block differs from luabind's package doc; copy luabind's block:\n%s", fromDoc)
}

func TestReadmeExtraction(t *testing.T) {
	t.Parallel()
	block, err := readmeAPIBlock("intro\n## Lua API\n\ntext\n\n```lua\nrc.me()  -> user\n```\n\n```lua\nother\n```\n")
	require.NoError(t, err)
	assert.Equal(t, "rc.me()  -> user\n", block)
	_, err = readmeAPIBlock("no section")
	assert.Error(t, err)
	assert.Equal(t, "a b c", normalizeSpace("  a\n\tb   c\n"))
	assert.NotEqual(t, normalizeSpace("rc.me() -> user"), normalizeSpace("rc.me() -> user | nil, err"), "a drift is seen")
}
