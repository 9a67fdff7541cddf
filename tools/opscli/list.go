package opscli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/spf13/cobra"
)

// ListRow is one SIM of `list` and `export` (-o json prints these).
type ListRow struct {
	ICCID         string     `json:"iccid"`
	IP            string     `json:"ip,omitempty"`
	State         string     `json:"state"`
	OnceStatus    string     `json:"once_status,omitempty"`
	Version       int64      `json:"version"`
	CertificateID string     `json:"certificate_id,omitempty"`
	Authority     string     `json:"authority,omitempty"`
	IssuedAt      *time.Time `json:"issued_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastFetchAt   *time.Time `json:"last_fetch_at,omitempty"`
	LastCommand   string     `json:"last_command,omitempty"`
	ClaimedBy     string     `json:"claimed_by,omitempty"`
	FailedStep    string     `json:"failed_step,omitempty"`
	FailureReason string     `json:"failure_reason,omitempty"`
	FailedAt      *time.Time `json:"failed_at,omitempty"`
	Attempts      int        `json:"attempts,omitempty"`
}

func listRowOf(r simrec.Record) ListRow {
	lr := ListRow{ICCID: r.ICCID, IP: r.IP, State: string(r.CurrentState()), OnceStatus: r.Status, Version: r.Version,
		CertificateID: r.CertificateID(), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LastCommand: r.LastCommand, ClaimedBy: r.ClaimedBy}
	if c := r.Cert; c != nil {
		lr.Authority = c.Authority
		lr.IssuedAt = timePtr(c.IssuedAt)
	}
	lr.LastFetchAt = timePtr(r.LastFetchAt)
	if f := r.LastFailure; f != nil {
		lr.FailedStep, lr.FailureReason, lr.FailedAt, lr.Attempts = f.Step, f.Reason, timePtr(f.At), f.Attempts
	}
	return lr
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// listFilter selects SIMs for `list`.
type listFilter struct {
	state        string
	since        time.Duration
	neverFetched bool
	now          time.Time
}

// States `list --state` accepts: the record states and "failed" (a last
// failure is recorded).
var listStates = []string{"active", "disabled", "pending", "revoked", "failed"}

func (f listFilter) keep(r simrec.Record) bool {
	switch {
	case f.state == "failed" && r.LastFailure == nil:
		return false
	case f.state != "" && f.state != "failed" && string(r.CurrentState()) != f.state:
		return false
	case f.since > 0 && r.UpdatedAt.Before(f.now.Add(-f.since)):
		return false
	case f.neverFetched && (!r.LastFetchAt.IsZero() || r.CurrentState() != simrec.StateActive):
		return false
	}
	return true
}

// sortKeys are the orders `list --sort` knows.
var sortKeys = map[string]func(a, b ListRow) bool{
	"iccid":   func(a, b ListRow) bool { return a.ICCID < b.ICCID },
	"ip":      func(a, b ListRow) bool { return ipLess(a.IP, b.IP) },
	"state":   func(a, b ListRow) bool { return a.State < b.State || a.State == b.State && a.ICCID < b.ICCID },
	"updated": func(a, b ListRow) bool { return a.UpdatedAt.Before(b.UpdatedAt) },
	"created": func(a, b ListRow) bool { return a.CreatedAt.Before(b.CreatedAt) },
	"fetched": func(a, b ListRow) bool { return tOf(a.LastFetchAt).Before(tOf(b.LastFetchAt)) },
	"version": func(a, b ListRow) bool { return a.Version < b.Version },
}

func tOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

var listColumns = []column{{"iccid", 22}, {"ip", 15}, {"state", 9}, {"version", 7}, {"certificate", 12},
	{"updated", 20}, {"fetched", 20}, {"failure", 0}}

func listCells(r ListRow) []string {
	fail := "-"
	if r.FailedStep != "" {
		fail = fmt.Sprintf("%s (%d×)", r.FailedStep, r.Attempts)
	}
	return []string{r.ICCID, dash(r.IP), r.State, strconv.FormatInt(r.Version, 10), short(r.CertificateID),
		stamp(r.UpdatedAt), stamp(tOf(r.LastFetchAt)), fail}
}

func newListCommand(o *Options) *cobra.Command {
	var (
		f      listFilter
		sortBy string
		desc   bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "SIM records, streamed from the table page by page, filtered and sortable",
		Long: `list reads the SIM table page by page and prints the SIMs that match, as they
arrive: memory holds one page, whatever the size of the fleet. With --sort the
matching rows (a few hundred bytes each, no keys or certificates) are sorted before
printing.`,
		Example: `  simbridge list --state failed
  simbridge list --state active --never-fetched -o csv > never-onboarded.csv
  simbridge list --since 1h --sort updated --desc
  simbridge list -o json | jq -r '.[].iccid'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.state != "" && !contains(listStates, f.state) {
				return usageError("--state %q: want one of %v", f.state, listStates)
			}
			if _, ok := sortKeys[sortBy]; sortBy != "" && !ok {
				return usageError("--sort %q: want iccid, ip, state, updated, created, fetched or version", sortBy)
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			f.now = s.now()
			cols, cells := listColumns, listCells
			if o.Output == FormatCSV {
				cols, cells = exportColumns, exportCells // full ids, RFC 3339 times
			} else if o.Output == FormatTable {
				s.header(cmd.Context())
			}
			return s.list(cmd.Context(), f, sortBy, desc, o.Output, cols, cells)
		},
	}
	cmd.Flags().StringVar(&f.state, "state", "", "only SIMs in this state: active, disabled, pending, revoked, failed (a failure is recorded)")
	cmd.Flags().DurationVar(&f.since, "since", 0, "only SIMs whose record changed within this duration (e.g. 30m, 24h)")
	cmd.Flags().BoolVar(&f.neverFetched, "never-fetched", false, "only active SIMs whose device never fetched its credentials")
	cmd.Flags().StringVar(&sortBy, "sort", "", "sort by iccid, ip, state, updated, created, fetched or version (default: table order, streamed)")
	cmd.Flags().BoolVar(&desc, "desc", false, "sort descending")
	return withTimeout(cmd, fleetTimeout)
}

// fleetTimeout is the default deadline of the commands that read the whole
// table (a million records take minutes).
const fleetTimeout = time.Hour

var exportColumns = []column{{"iccid", 0}, {"ip", 0}, {"state", 0}, {"once_status", 0}, {"version", 0},
	{"certificate_id", 0}, {"authority", 0}, {"issued_at", 0}, {"created_at", 0}, {"updated_at", 0},
	{"last_fetch_at", 0}, {"last_command", 0}, {"failed_step", 0}, {"failure_reason", 0}, {"failed_at", 0}, {"attempts", 0}}

func exportCells(r ListRow) []string {
	opt := func(t *time.Time) string { return rfc3339(tOf(t)) }
	attempts := ""
	if r.Attempts > 0 {
		attempts = strconv.Itoa(r.Attempts)
	}
	return []string{r.ICCID, r.IP, r.State, r.OnceStatus, strconv.FormatInt(r.Version, 10), r.CertificateID, r.Authority,
		opt(r.IssuedAt), rfc3339(r.CreatedAt), rfc3339(r.UpdatedAt), opt(r.LastFetchAt),
		r.LastCommand, r.FailedStep, r.FailureReason, opt(r.FailedAt), attempts}
}

func newExportCommand(o *Options) *cobra.Command {
	return withTimeout(&cobra.Command{
		Use:   "export",
		Short: "The whole fleet as CSV (default) or JSON, for spreadsheets and audits",
		Long: `export writes every SIM record (without keys or certificates) as CSV with a header
row, or as a JSON array with -o json, streamed from the table page by page.`,
		Example: `  simbridge export > fleet.csv
  simbridge export -o json > fleet.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			format := o.Output
			if format == FormatTable {
				format = FormatCSV
			}
			return s.list(cmd.Context(), listFilter{}, "", false, format, exportColumns, exportCells)
		},
	}, fleetTimeout)
}

// list streams the matching records to the output, or sorts them first.
func (s *session) list(ctx context.Context, f listFilter, sortBy string, desc bool, format string, cols []column, cells func(ListRow) []string) error {
	w, err := newRowWriter(s.out, format, cols)
	if err != nil {
		return err
	}
	bar := newProgress(s.errOut, s.opts.Progress, tableSize(ctx, s.ddb, s.names.Table()), "scanning "+s.names.Table(), "SIMs")
	var held []ListRow
	err = scanRecords(ctx, s.ddb, s.names.Table(), bar.Add, func(r simrec.Record) error {
		if !f.keep(r) {
			return nil
		}
		lr := listRowOf(r)
		if sortBy != "" {
			held = append(held, lr)
			return nil
		}
		return w.Row(cellsFor(format, cells, lr), lr)
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if sortBy != "" {
		less := sortKeys[sortBy]
		sort.SliceStable(held, func(i, j int) bool {
			if desc {
				return less(held[j], held[i])
			}
			return less(held[i], held[j])
		})
		for _, lr := range held {
			if err := w.Row(cellsFor(format, cells, lr), lr); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

// cellsFor leaves unknown values empty in CSV (tables show "-").
func cellsFor(format string, cells func(ListRow) []string, lr ListRow) []string {
	c := cells(lr)
	if format == FormatCSV {
		for i, v := range c {
			if v == "-" {
				c[i] = ""
			}
		}
	}
	return c
}
