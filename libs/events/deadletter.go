package events

// Message attributes of dead letters, shared by the consumers (which move a
// message to its queue's DLQ) and simbridge (which reads, redrives and
// deletes them). A consumer writes the reason and the failed step; a
// redrive writes how often the message was redriven and which redrive moved
// it, and a consumer that dead-letters it again carries both over, so the
// redrive knows the message it moved came back (and moves it no second
// time) and `simbridge failures` can say it was redriven before.
const (
	// AttrDeadLetterReason is "<class>: <error>", class DeadLetterMalformed
	// or DeadLetterExhausted.
	AttrDeadLetterReason = "dead_letter_reason"
	// AttrFailedStep names the step of the use case that failed ("decode"
	// for a malformed message).
	AttrFailedStep = "failed_step"
	// AttrRedrives counts the redrives of the message (a Number).
	AttrRedrives = "redrives"
	// AttrRedriveRun identifies the redrive that moved it last.
	AttrRedriveRun = "redrive_run"
)

// Classes of dead letters (the start of AttrDeadLetterReason).
const (
	// DeadLetterMalformed: the message can never be handled (it does not
	// decode or is invalid); sending it again fails again.
	DeadLetterMalformed = "malformed"
	// DeadLetterExhausted: it failed as often as the queue allows; once the
	// cause is fixed, sending it again may succeed.
	DeadLetterExhausted = "exhausted"
)
