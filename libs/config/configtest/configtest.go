// Package configtest runs a service's configuration cases: each starts from
// a base environment, sets or removes variables, and must load or be refused
// with an error naming what is wrong.
package configtest

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/config"
)

// Case is one environment a service must accept (WantErr empty) or refuse
// with an error containing every string of WantErr.
type Case[C any] struct {
	Name string
	// Set overrides base variables; an empty value removes the variable.
	Set     map[string]string
	WantErr []string
	// Check, when set, inspects an accepted configuration.
	Check func(t *testing.T, c C)
}

// Run loads every case into a fresh C in parallel subtests.
func Run[C any](t *testing.T, base map[string]string, cases []Case[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(base)
			for k, v := range tc.Set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			var c C
			err := config.LoadFrom(context.Background(), config.MapLookuper(env), &c)
			if len(tc.WantErr) > 0 {
				for _, want := range tc.WantErr {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("err = %v, want one containing %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.Check != nil {
				tc.Check(t, c)
			}
		})
	}
}

// Set turns "K1", "V1", "K2", "V2" into a Case's Set; an empty value
// removes the variable.
func Set(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
