package main

import (
	"fmt"
	"testing"
)

func TestParseSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []int
		ok       bool
	}{
		{name: "list", in: "1000,10000", want: []int{1000, 10000}, ok: true},
		{name: "underscores and spaces", in: " 100_000 , 1_000", want: []int{100000, 1000}, ok: true},
		{name: "empty", in: ""},
		{name: "zero", in: "0"},
		{name: "not a number", in: "ten"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseSizes(tc.in)
			if (err == nil) != tc.ok || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("parseSizes(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}
