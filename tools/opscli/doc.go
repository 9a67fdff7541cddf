// Package opscli is simbridge, the operators' command line: it answers the
// questions an operator of a SIM fleet asks every day (what is the state of
// this SIM and why, which SIMs failed and at which step, sync now, reissue or
// revoke a certificate, what does IoT Core hold that the table does not)
// from a laptop with IAM credentials, against AWS or the local emulator.
//
// It never writes a record or changes a certificate itself: every change is a
// command on the provisioner's or deactivator's queue (or a sync request to
// sim-poller), computed against the record's current version like any other
// command, so the services stay the only writers and their invariants hold.
// adopt (adopt*.go), the way in from 1NCE's reference system, is the one
// exception: it creates records, conditionally, for certificates that
// already exist in IoT Core, and leaves every later change of state to the
// services through a sync request.
// Reads go straight to the table, IoT Core, SQS and the 1NCE API.
//
// Exit codes (ExitOK … ExitTimeout) mean the same in every command:
//
//	0  done; the answer is the healthy one
//	1  error: a call failed, a command was refused or failed
//	2  usage: unknown command or flag, bad argument
//	3  attention: not found, drift found, messages in a dead-letter queue
//	4  timed out waiting for an outcome (the request was sent and may still finish)
//	130 interrupted (Ctrl-C)
package opscli
