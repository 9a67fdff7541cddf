package ports

import "testing"

func TestHonourRange(t *testing.T) {
	t.Parallel()
	const size = 1000
	tests := []struct {
		name, header string
		want         bool
	}{
		{"no header", "", false},
		{"other unit", "items=0-1", false},
		{"one range", "bytes=0-99", true},
		{"suffix", "bytes=-50", true},
		{"open ended", "bytes=900-", true},
		{"eight ranges", "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14", true},
		{"nine ranges", "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16", false},
		{"empty elements do not count", "bytes=0-0,,,,,,,,,,2-2", true},
		{"overlap", "bytes=0-10,10-20", false},
		{"contained", "bytes=0-500,100-200", false},
		{"suffix overlaps", "bytes=990-995,-5", false},
		{"suffix larger than the body overlaps everything", "bytes=0-0,-5000", false},
		{"out of order, no overlap", "bytes=500-599,0-99", true},
		{"end past the body clamps, no overlap", "bytes=0-99,990-5000", true},
		{"unsatisfiable range is left to ServeContent", "bytes=5000-6000", true},
		{"malformed is left to ServeContent", "bytes=abc", true},
		{"inverted is left to ServeContent", "bytes=50-10", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := honourRange(tc.header, size); got != tc.want {
				t.Fatalf("honourRange(%q) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}
