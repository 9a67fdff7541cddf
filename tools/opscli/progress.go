package opscli

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress modes of --progress.
const (
	ProgressAuto   = "auto"
	ProgressAlways = "always"
	ProgressNever  = "never"
)

// progress is what fleet-walking commands report to: a bar with count, rate
// and ETA on stderr (never stdout, which stays parseable), or nothing.
type progress interface {
	Add(n int)
	// SetTotal changes the expected total (-1: unknown, a spinner).
	SetTotal(n int64)
	Describe(s string)
	Finish()
}

// newProgress returns a bar over total items (-1 when unknown) named what,
// counting unit, shown when mode says so: auto shows it on a terminal only.
func newProgress(w io.Writer, mode string, total int64, what, unit string) progress {
	if !showProgress(w, mode) {
		return noProgress{}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
	)
	return &bar64{bar}
}

func showProgress(w io.Writer, mode string) bool {
	switch mode {
	case ProgressAlways:
		return true
	case ProgressNever:
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type bar64 struct{ b *progressbar.ProgressBar }

func (p *bar64) Add(n int)         { _ = p.b.Add(n) }
func (p *bar64) SetTotal(n int64)  { p.b.ChangeMax64(n) }
func (p *bar64) Describe(s string) { p.b.Describe(s) }
func (p *bar64) Finish()           { _ = p.b.Finish() }

type noProgress struct{}

func (noProgress) Add(int)         {}
func (noProgress) SetTotal(int64)  {}
func (noProgress) Describe(string) {}
func (noProgress) Finish()         {}
