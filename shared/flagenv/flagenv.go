// Package flagenv reads a program's settings from command-line flags and
// environment variables, from one table: each Setting names the flag, its
// default, its help text and what to do with the value, and its environment
// variable is derived from the name (prefix TURNPIKE_, flag max-body-bytes:
// TURNPIKE_MAX_BODY_BYTES). The flag, the variable, the default and --help
// cannot drift apart because nothing else defines them.
//
// Precedence: a flag on the command line wins over the variable, which wins
// over the default; an empty variable counts as unset. Every value, whatever
// its source, goes through the same parser, and all bad values are reported
// together, each as `--name: want <what>, got "<value>"`.
//
// The package is pure (the environment comes in as a function, output goes to
// an io.Writer), so it lives in shared/ and serves the sidecar and the test
// gateway alike.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrHelp is returned by Parse when -h or --help was given; the help text
// has been written.
var ErrHelp = flag.ErrHelp

// Setting is one configurable value.
type Setting struct {
	Name    string // flag name, lower case with dashes
	Default string // text parsed when neither the flag nor the variable is set; shown by --help
	Usage   string // help text; a `backquoted` word names the value, as in package flag
	// Want says what a valid value looks like: a value Set rejects is reported
	// as `--Name: want <Want>, got "<value>"`. When empty, Set's own error
	// follows `--Name: `.
	Want string
	// Set parses one value into its destination (a field of the program's
	// configuration).
	Set func(string) error
	// Bool makes the flag usable bare: --name means --name=true.
	Bool bool
	// Repeat makes every occurrence of the flag one value; the variable and
	// the default hold comma-separated values. Flags given on the command
	// line replace the variable's values, they do not add to them.
	Repeat bool
}

// Set is a program's table of settings.
type Set struct {
	Program  string // name used by --help and in flag errors
	Prefix   string // environment variable prefix, e.g. "TURNPIKE_"
	Intro    string // --help text printed before the flags
	Settings []Setting
}

// EnvName returns the environment variable of a flag: the prefix, then the
// name in capitals with "-" as "_".
func (s *Set) EnvName(name string) string {
	return s.Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse reads args (without the program name) and the environment through
// getenv, and sets every setting from its flag, its variable or its default.
// It returns the arguments left after the flags. Usage and flag syntax errors
// (an unknown flag, a missing value) are written to out by package flag and
// returned as it reports them; otherwise every rejected value is reported in
// a ValueErrors.
func (s *Set) Parse(args []string, getenv func(string) string, out io.Writer) ([]string, error) {
	fs := flag.NewFlagSet(s.Program, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { s.Usage(out) }
	given := make([]capture, len(s.Settings))
	for i, st := range s.Settings {
		given[i].setting = &s.Settings[i]
		fs.Var(&given[i], st.Name, st.Usage)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var errs []error
	for i, st := range s.Settings {
		values := given[i].values
		if len(values) == 0 {
			raw := getenv(s.EnvName(st.Name))
			if raw == "" {
				raw = st.Default
			}
			values = []string{raw}
			if st.Repeat {
				values = splitList(raw)
			}
		}
		for _, v := range values {
			if err := st.Set(v); err != nil {
				errs = append(errs, st.reject(v, err))
			}
		}
	}
	if len(errs) > 0 {
		return fs.Args(), ValueErrors(errs)
	}
	return fs.Args(), nil
}

// ValueErrors is Parse's error when the flags were well-formed but some
// values were rejected: one error per rejected value, in table order. Callers
// that validate further (required settings) can add to it; a flag syntax
// error is returned as package flag reports it instead.
type ValueErrors []error

func (e ValueErrors) Error() string { return errors.Join(e...).Error() }

func (e ValueErrors) Unwrap() []error { return e }

func (st *Setting) reject(value string, err error) error {
	if st.Want == "" {
		return fmt.Errorf("--%s: %w", st.Name, err)
	}
	return fmt.Errorf("--%s: want %s, got %q", st.Name, st.Want, value)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// capture is the flag.Value of a setting during flag parsing: it only
// records the text, so that flags, variables and defaults are all parsed by
// Setting.Set afterwards.
type capture struct {
	setting *Setting
	values  []string
}

func (c *capture) String() string {
	if c == nil || c.setting == nil {
		return ""
	}
	return c.setting.Default
}

func (c *capture) Set(v string) error {
	if c.setting.Repeat {
		c.values = append(c.values, v)
	} else {
		c.values = []string{v}
	}
	return nil
}

func (c *capture) IsBoolFlag() bool { return c.setting.Bool }

// Usage writes the --help text: the intro, then every flag with its help,
// its default and its environment variable.
func (s *Set) Usage(out io.Writer) {
	fmt.Fprint(out, s.Intro)
	if s.Intro != "" && !strings.HasSuffix(s.Intro, "\n") {
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "\nEvery flag can also be set through the environment variable shown; a flag on\nthe command line wins over the environment.\n\nFlags:\n")
	for _, st := range s.Settings {
		name, usage := flag.UnquoteUsage(&flag.Flag{Name: st.Name, Usage: st.Usage})
		head := "  --" + st.Name
		if name != "" && !st.Bool {
			head += " " + name
		}
		fmt.Fprintln(out, head)
		for _, line := range strings.Split(usage, "\n") {
			fmt.Fprintf(out, "        %s\n", line)
		}
		def := st.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "        (default %s; env %s)\n", def, s.EnvName(st.Name))
	}
}

// String is a setting whose value is any text.
func String(p *string, name, def, usage string) Setting {
	return Setting{Name: name, Default: def, Usage: usage, Set: func(v string) error { *p = v; return nil }}
}

// OneOf is a text setting restricted to the given choices.
func OneOf(p *string, name, def, usage string, choices ...string) Setting {
	want := strings.Join(choices, ", ")
	if n := len(choices); n > 1 {
		want = strings.Join(choices[:n-1], ", ") + " or " + choices[n-1]
	}
	return Setting{Name: name, Default: def, Usage: usage, Want: want, Set: func(v string) error {
		for _, c := range choices {
			if v == c {
				*p = v
				return nil
			}
		}
		return errors.New("not a choice")
	}}
}

// Bool is a true/false setting; the flag may be given bare.
func Bool(p *bool, name string, def bool, usage string) Setting {
	return Setting{Name: name, Default: strconv.FormatBool(def), Usage: usage, Want: "true or false", Bool: true,
		Set: func(v string) (err error) { *p, err = strconv.ParseBool(v); return err }}
}

// Int is an integer setting (range checks are the caller's).
func Int(p *int, name string, def int, usage string) Setting {
	return Setting{Name: name, Default: strconv.Itoa(def), Usage: usage, Want: "an integer",
		Set: func(v string) (err error) { *p, err = strconv.Atoi(v); return err }}
}

// Int64 is a 64-bit integer setting (range checks are the caller's).
func Int64(p *int64, name string, def int64, usage string) Setting {
	return Setting{Name: name, Default: strconv.FormatInt(def, 10), Usage: usage, Want: "an integer",
		Set: func(v string) (err error) { *p, err = strconv.ParseInt(v, 10, 64); return err }}
}

// PositiveInt64 is an integer setting that must be above zero.
func PositiveInt64(p *int64, name string, def int64, usage string) Setting {
	return Setting{Name: name, Default: strconv.FormatInt(def, 10), Usage: usage, Want: "a positive integer",
		Set: func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil && n <= 0 {
				err = errors.New("not positive")
			}
			*p = n
			return err
		}}
}

// PositiveDuration is a time.Duration setting (Go syntax: 2s, 500ms) that
// must be above zero.
func PositiveDuration(p *time.Duration, name string, def time.Duration, usage string) Setting {
	return Setting{Name: name, Default: def.String(), Usage: usage, Want: "a positive duration such as 2s or 500ms",
		Set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && d <= 0 {
				err = errors.New("not positive")
			}
			*p = d
			return err
		}}
}

// Func is a setting with its own parser. want describes a valid value for
// errors; when empty, set's error is shown instead.
func Func(name, def, usage, want string, set func(string) error) Setting {
	return Setting{Name: name, Default: def, Usage: usage, Want: want, Set: set}
}

// List is a repeatable setting: add is called once per value (per flag
// occurrence, or per comma-separated item of the variable or default).
func List(name, def, usage, want string, add func(string) error) Setting {
	return Setting{Name: name, Default: def, Usage: usage, Want: want, Set: add, Repeat: true}
}
