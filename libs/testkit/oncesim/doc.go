// Package oncesim simulates the 1NCE Management API (token, SIM listing and single SIM, SPEC 3.1)
// so that sim-poller and the end-to-end tests can run without 1NCE: it serves a configurable SIM
// inventory with the real paging headers, rate limit and token expiry, and lets tests inject
// faults (Fault), change the inventory between two page requests of a listing (Mutation) and
// change it at any time, through an unauthenticated admin API (see AdminClient).
package oncesim
