package flagenv

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type config struct {
	name    string
	size    int64
	workers int
	verbose bool
	wait    time.Duration
	format  string
	level   int
	peers   []string
}

func table(c *config) *Set {
	return &Set{Program: "prog", Prefix: "PROG_", Intro: "prog: does things.\n\nUsage: prog [flags]\n", Settings: []Setting{
		String(&c.name, "name", "anon", "the `name` to use"),
		PositiveInt64(&c.size, "max-size", 1024, "size limit in `bytes`"),
		Int(&c.workers, "workers", 4, "number of `workers`"),
		Bool(&c.verbose, "verbose", false, "log more"),
		PositiveDuration(&c.wait, "wait", 2*time.Second, "how long to wait (`duration`)"),
		OneOf(&c.format, "format", "text", "output `format`", "text", "json"),
		Func("level", "1", "`level` 1 to 3", "1, 2 or 3", func(v string) error {
			switch v {
			case "1", "2", "3":
				c.level = int(v[0] - '0')
				return nil
			}
			return errors.New("out of range")
		}),
		List("peer", "", "NAME=ADDR of a `peer` (repeatable)", "", func(v string) error {
			if !strings.Contains(v, "=") {
				return fmt.Errorf("want NAME=ADDR, got %q", v)
			}
			c.peers = append(c.peers, v)
			return nil
		}),
	}}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		rest    []string
		wantErr []string // each must appear in the error
	}{
		{name: "defaults",
			want: config{name: "anon", size: 1024, workers: 4, wait: 2 * time.Second, format: "text", level: 1}},
		{name: "environment over default",
			env: map[string]string{"PROG_NAME": "env", "PROG_MAX_SIZE": "7", "PROG_VERBOSE": "true",
				"PROG_WAIT": "1m", "PROG_FORMAT": "json", "PROG_LEVEL": "3", "PROG_PEER": "a=1, b=2"},
			want: config{name: "env", size: 7, workers: 4, verbose: true, wait: time.Minute, format: "json", level: 3,
				peers: []string{"a=1", "b=2"}}},
		{name: "flag over environment; empty variable is unset",
			args: []string{"--name", "flag", "--workers=8", "--peer", "c=3", "--peer", "d=4"},
			env:  map[string]string{"PROG_NAME": "env", "PROG_WORKERS": "", "PROG_PEER": "a=1"},
			want: config{name: "flag", size: 1024, workers: 8, wait: 2 * time.Second, format: "text", level: 1,
				peers: []string{"c=3", "d=4"}}},
		{name: "bare bool flag", args: []string{"--verbose"},
			want: config{name: "anon", size: 1024, workers: 4, verbose: true, wait: 2 * time.Second, format: "text", level: 1}},
		{name: "a flag hides a bad variable", args: []string{"--verbose=false"}, env: map[string]string{"PROG_VERBOSE": "maybe"},
			want: config{name: "anon", size: 1024, workers: 4, wait: 2 * time.Second, format: "text", level: 1}},
		{name: "remaining arguments", args: []string{"--name", "x", "extra", "more"},
			want: config{name: "x", size: 1024, workers: 4, wait: 2 * time.Second, format: "text", level: 1},
			rest: []string{"extra", "more"}},
		{name: "every bad value is reported",
			args: []string{"--max-size", "-3", "--wait", "soon", "--format", "xml", "--level", "9", "--workers", "many", "--peer", "x"},
			env:  map[string]string{"PROG_VERBOSE": "yes please"},
			wantErr: []string{
				`--max-size: want a positive integer, got "-3"`,
				`--wait: want a positive duration such as 2s or 500ms, got "soon"`,
				`--format: want text or json, got "xml"`,
				`--level: want 1, 2 or 3, got "9"`,
				`--workers: want an integer, got "many"`,
				`--verbose: want true or false, got "yes please"`,
				`--peer: want NAME=ADDR, got "x"`,
			}},
		{name: "zero duration is rejected", args: []string{"--wait", "0s"},
			wantErr: []string{`--wait: want a positive duration such as 2s or 500ms, got "0s"`}},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: []string{"flag provided but not defined: -nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			var out bytes.Buffer
			rest, err := table(&c).Parse(tt.args, func(k string) string { return tt.env[k] }, &out)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.name != tt.want.name || c.size != tt.want.size || c.workers != tt.want.workers ||
				c.verbose != tt.want.verbose || c.wait != tt.want.wait || c.format != tt.want.format ||
				c.level != tt.want.level || !slices.Equal(c.peers, tt.want.peers) {
				t.Errorf("got %+v\nwant %+v", c, tt.want)
			}
			if !slices.Equal(rest, tt.rest) {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
		})
	}
}

func TestHelpListsEveryFlagWithItsVariableAndDefault(t *testing.T) {
	var c config
	s := table(&c)
	var out bytes.Buffer
	_, err := s.Parse([]string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	help := out.String()
	if !strings.HasPrefix(help, s.Intro) {
		t.Errorf("help does not start with the intro:\n%s", help)
	}
	for _, want := range []string{
		"  --name name\n        the name to use\n        (default anon; env PROG_NAME)\n",
		"  --verbose\n        log more\n        (default false; env PROG_VERBOSE)\n",
		"  --wait duration\n", "(default 2s; env PROG_WAIT)",
		"  --peer peer\n", `(default ""; env PROG_PEER)`,
		"(default 1024; env PROG_MAX_SIZE)",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}

func TestEnvName(t *testing.T) {
	s := &Set{Prefix: "TURNPIKE_GATEWAY_"}
	for name, want := range map[string]string{
		"listen":        "TURNPIKE_GATEWAY_LISTEN",
		"plugin-config": "TURNPIKE_GATEWAY_PLUGIN_CONFIG",
	} {
		if got := s.EnvName(name); got != want {
			t.Errorf("EnvName(%s) = %s, want %s", name, got, want)
		}
	}
}
