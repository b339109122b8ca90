package config

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	base := []string{"--secret", "s", "--filter-token", "f"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", args: base, check: func(t *testing.T, c Config) {
			if c.Listen != ":8090" || c.MaxBodyBytes != 1<<20 || c.LogLevel != slog.LevelInfo ||
				c.LogFormat != "text" || c.ShutdownTimeout != 15*time.Second || c.RedisTimeout != 2*time.Second ||
				c.RedisURL != "" || c.PoliciesFile != "" || c.AllowMasterKeys || c.ConfigPoll != 200*time.Millisecond ||
				c.MetricsListen != "" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "env supplies values", env: map[string]string{
			"TURNPIKE_SECRET": "es", "TURNPIKE_FILTER_TOKEN": "ef", "TURNPIKE_REDIS": "redis://h:1/0",
			"TURNPIKE_LOG_LEVEL": "debug", "TURNPIKE_ALLOW_MASTER_KEYS": "true",
		}, check: func(t *testing.T, c Config) {
			if c.Secret != "es" || c.FilterToken != "ef" || c.RedisURL != "redis://h:1/0" ||
				c.LogLevel != slog.LevelDebug || !c.AllowMasterKeys {
				t.Errorf("env: %+v", c)
			}
		}},
		{name: "flag beats env", args: append([]string{"--listen", ":1"}, base...),
			env: map[string]string{"TURNPIKE_LISTEN": ":2"},
			check: func(t *testing.T, c Config) {
				if c.Listen != ":1" {
					t.Errorf("listen = %q", c.Listen)
				}
			}},
		{name: "metrics listener from flag", args: append([]string{"--metrics-listen", "127.0.0.1:9090"}, base...),
			check: func(t *testing.T, c Config) {
				if c.MetricsListen != "127.0.0.1:9090" || c.Listen != ":8090" {
					t.Errorf("metrics-listen = %q, listen = %q", c.MetricsListen, c.Listen)
				}
			}},
		{name: "metrics listener from env", args: base, env: map[string]string{"TURNPIKE_METRICS_LISTEN": "127.0.0.1:1"},
			check: func(t *testing.T, c Config) {
				if c.MetricsListen != "127.0.0.1:1" {
					t.Errorf("metrics-listen = %q", c.MetricsListen)
				}
			}},
		{name: "bare bool flag", args: append([]string{"--allow-master-keys"}, base...),
			check: func(t *testing.T, c Config) {
				if !c.AllowMasterKeys {
					t.Error("allow-master-keys not set")
				}
			}},
		{name: "secret required", args: []string{"--filter-token", "f"}, wantErr: "--secret"},
		{name: "filter token required", args: []string{"--secret", "s"}, wantErr: "--filter-token"},
		{name: "bad body limit", args: append([]string{"--max-body-bytes", "-3"}, base...), wantErr: "--max-body-bytes"},
		{name: "bad duration", args: append([]string{"--redis-timeout", "soon"}, base...), wantErr: "--redis-timeout"},
		{name: "quota wait", args: append([]string{"--quota-wait-replicas", "1", "--quota-wait-timeout", "50ms"}, base...),
			check: func(t *testing.T, c Config) {
				if c.QuotaWaitReplicas != 1 || c.QuotaWaitTimeout != 50*time.Millisecond {
					t.Errorf("quota wait: %d %v", c.QuotaWaitReplicas, c.QuotaWaitTimeout)
				}
			}},
		{name: "negative quota wait", args: append([]string{"--quota-wait-replicas", "-1"}, base...),
			wantErr: "--quota-wait-replicas"},
		{name: "quota wait longer than the Redis timeout", args: append([]string{"--quota-wait-replicas", "1",
			"--quota-wait-timeout", "3s"}, base...), wantErr: "--quota-wait-timeout must be shorter"},
		{name: "bad level", args: append([]string{"--log-level", "loud"}, base...), wantErr: "--log-level"},
		{name: "bad format", args: append([]string{"--log-format", "xml"}, base...), wantErr: "--log-format"},
		{name: "bad bool env", args: base, env: map[string]string{"TURNPIKE_ALLOW_MASTER_KEYS": "yes please"},
			wantErr: "--allow-master-keys"},
		{name: "stray argument", args: append(base, "extra"), wantErr: `unexpected argument "extra"`},
		{name: "bad values reported together", args: []string{"--log-level", "loud", "--config-poll", "0s"},
			wantErr: `--log-level: want debug, info, warn or error, got "loud"
--config-poll: want a positive duration such as 2s or 500ms, got "0s"
--secret (or TURNPIKE_SECRET) is required`},
		{name: "unknown flag", args: append([]string{"--nope"}, base...), wantErr: "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c, err := Parse(tt.args, env(tt.env), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := Parse([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	help := out.String()
	s := settings(&Config{})
	for _, st := range s.Settings {
		for _, want := range []string{"--" + st.Name, s.EnvName(st.Name)} {
			if !strings.Contains(help, want) {
				t.Errorf("--help does not mention %s", want)
			}
		}
	}
	for _, form := range []string{"redis://", "rediss://", "redis+sentinel://", "redis+cluster://"} {
		if !strings.Contains(help, form) {
			t.Errorf("--help does not document the Redis URL form %s", form)
		}
	}
}
