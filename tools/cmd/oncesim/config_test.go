package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c config)
		wantErr string // "" = success; "help" = flag.ErrHelp
	}{
		{name: "defaults with env password", env: map[string]string{"ONCESIM_PASSWORD": "pw"}, check: func(t *testing.T, c config) {
			want := config{listen: "127.0.0.1:8090", user: "demo@example.com", password: "pw", count: 5,
				iccidPrefix: "8988280666000000", ipPattern: "127.0.0.x", ipStart: 2, basePath: "/management-api",
				tokenTTL: time.Hour, rateLimit: 10, rateBurst: 10, streamUser: "1nce-datastreamer", streamInterval: 500 * time.Millisecond}
			if c != want {
				t.Fatalf("config = %+v, want %+v", c, want)
			}
		}},
		{name: "stream without password", args: []string{"-password", "p", "-stream-url", "http://127.0.0.1:1/x"}, wantErr: "stream-password"},
		{name: "stream password from env", args: []string{"-password", "p", "-stream-url", "http://127.0.0.1:1/x"}, env: map[string]string{"ONCESIM_STREAM_PASSWORD": "s"},
			check: func(t *testing.T, c config) {
				if c.streamURL != "http://127.0.0.1:1/x" || c.streamPassword != "s" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "flags", args: []string{"-password", "p", "-listen", "127.0.0.1:0", "-count", "100000", "-ip-pattern", "10.x.x.x",
			"-ip-start", "1", "-base-path", "", "-token-ttl", "2s", "-rate-limit", "0", "-rate-burst", "3", "-inventory-file", "f.json"},
			check: func(t *testing.T, c config) {
				if c.count != 100000 || c.basePath != "" || c.tokenTTL != 2*time.Second || c.rateLimit != 0 || c.inventoryFile != "f.json" || c.listen != "127.0.0.1:0" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "env for every kind", env: map[string]string{"ONCESIM_PASSWORD": "p", "ONCESIM_COUNT": "7", "ONCESIM_IP_PATTERN": "10.0.x.x",
			"ONCESIM_TOKEN_TTL": "1m", "ONCESIM_RATE_LIMIT": "2.5", "ONCESIM_BASE_PATH": ""},
			check: func(t *testing.T, c config) {
				if c.count != 7 || c.ipPattern != "10.0.x.x" || c.tokenTTL != time.Minute || c.rateLimit != 2.5 || c.basePath != "" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "flag beats env", args: []string{"-count", "3"}, env: map[string]string{"ONCESIM_PASSWORD": "p", "ONCESIM_COUNT": "9"},
			check: func(t *testing.T, c config) {
				if c.count != 3 {
					t.Fatalf("count = %d, want 3", c.count)
				}
			}},
		{name: "missing password", wantErr: "-password"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "not defined"},
		{name: "bad int flag", args: []string{"-password", "p", "-count", "x"}, wantErr: "invalid value"},
		{name: "bad env value", env: map[string]string{"ONCESIM_PASSWORD": "p", "ONCESIM_RATE_BURST": "lots"}, wantErr: "ONCESIM_RATE_BURST"},
		{name: "negative count", args: []string{"-password", "p", "-count", "-1"}, wantErr: "-count"},
		{name: "zero ttl", args: []string{"-password", "p", "-token-ttl", "0s"}, wantErr: "-token-ttl"},
		{name: "relative base path", args: []string{"-password", "p", "-base-path", "api"}, wantErr: "-base-path"},
		{name: "extra argument", args: []string{"-password", "p", "serve"}, wantErr: "unexpected arguments"},
		{name: "help", args: []string{"-h"}, wantErr: "help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			c, err := parseConfig(tt.args, lookup)
			switch {
			case tt.wantErr == "help":
				if !errors.Is(err, flag.ErrHelp) {
					t.Fatalf("err = %v, want flag.ErrHelp", err)
				}
			case tt.wantErr != "":
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error (exit 2) containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("parseConfig: %v", err)
			default:
				tt.check(t, c)
			}
		})
	}
}

func TestConfigLogMasksPassword(t *testing.T) {
	t.Parallel()
	c := config{password: "topsecret"}
	if s := c.LogValue().String(); strings.Contains(s, "topsecret") {
		t.Fatalf("log value %s shows the password", s)
	}
}
