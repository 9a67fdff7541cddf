// Package steps names the step of a use case that failed, so a failure
// notification and the metrics can say where a SIM got stuck ("create
// certificate", "record active") instead of only what the error was.
package steps

import "errors"

// ErrTransient marks a failure that may go away by itself (another command
// holds the SIM, a conflicting write): consumers retry such work instead of
// giving it up.
var ErrTransient = errors.New("transient failure")

// Error is an error tagged with the step it came from.
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string { return e.Name + ": " + e.Err.Error() }

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Step names the failed step (messaging.Stepper).
func (e *Error) Step() string { return e.Name }

// Wrap tags err with the step it came from; nil stays nil.
func Wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Name: name, Err: err}
}
