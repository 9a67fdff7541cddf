// Package oncesim simulates the 1NCE Management API (token and SIM listing, SPEC 3.1) so that
// sim-poller and the end-to-end tests can run without 1NCE: it serves a configurable SIM inventory
// with the real paging headers, rate limit and token expiry, and lets tests inject faults and change
// the inventory through an unauthenticated admin API (see AdminClient).
package oncesim
