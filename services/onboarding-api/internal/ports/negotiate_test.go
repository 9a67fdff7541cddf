package ports

import "testing"

func TestNegotiate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, accept, want string
	}{
		{"no header", "", formatJSON},
		{"blank header", "  ", formatJSON},
		{"json", "application/json", formatJSON},
		{"csv", "text/csv", formatCSV},
		{"csv, case-insensitive", "TEXT/CSV", formatCSV},
		{"csv with a charset", "text/csv; charset=utf-8", formatCSV},
		{"csv refused", "text/csv;q=0, application/json", formatJSON},
		{"csv refused, q with decimals", "text/csv;q=0.000, application/json;q=0.001", formatJSON},
		{"csv refused among wildcards", "text/csv;q=0, text/*, */*", formatJSON},
		{"highest q wins", "application/json;q=0.4, text/csv;q=0.8", formatCSV},
		{"tie goes to json", "application/json;q=0.5, text/csv;q=0.5", formatJSON},
		{"*/*", "*/*", formatJSON},
		{"text/*", "text/*", formatCSV},
		{"application/*", "application/*", formatJSON},
		{"specific beats wildcard", "text/*;q=0.9, text/csv;q=0.1, application/json;q=0.5", formatJSON},
		{"wildcard lifts json above a weak csv", "text/csv;q=0.5, */*", formatJSON},
		{"nothing acceptable falls back to json", "text/plain, image/png", formatJSON},
		{"everything refused falls back to json", "*/*;q=0", formatJSON},
		{"q above 1 ignored", "text/csv;q=1.5", formatJSON},
		{"negative q ignored", "text/csv;q=-1, application/json;q=0.1", formatJSON},
		{"NaN q ignored", "text/csv;q=NaN, application/json;q=0.1", formatJSON},
		{"q not a number ignored", "text/csv;q=high", formatJSON},
		{"malformed element ignored", "text/, text/csv", formatCSV},
		{"*/type is not a range", "*/csv", formatJSON},
		{"empty elements", ",,text/csv,,", formatCSV},
		{"quoted comma stays in its parameter", `application/json;q=0.1, text/csv;x="a,application/json";q=0.9`, formatCSV},
		{"duplicate range takes the higher q", "text/csv;q=0, text/csv;q=0.9", formatCSV},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := negotiate(tc.accept); got != tc.want {
				t.Fatalf("negotiate(%q) = %s, want %s", tc.accept, got, tc.want)
			}
		})
	}
}
