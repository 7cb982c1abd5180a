// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

// Package spillway is what a Go application needs from spillway, with nothing but the
// standard library:
//
//  1. Report saturation: ReportPool and ReportQueue send one report line to the daemon's unix
//     datagram socket. They never block: when the daemon is down or behind, the report is
//     dropped and the error says why at once (errors.Is with syscall.ENOENT: no socket,
//     ECONNREFUSED: nobody bound, EAGAIN: its queue is full, EACCES: not allowed, EINVAL: a bad
//     name, caught before any send).
//  2. Hear back: ShedState says whether new work of a tier should be refused now, with a
//     Retry-After, read from the shed-state file the daemon publishes every tick through mmap
//     under its seqlock: no syscall and no lock per check, never a torn read, safe from any
//     number of goroutines. Middleware answers 503 + Retry-After for a net/http server.
//
// Everything fails open, as libspillway-client does: a daemon that is down or stale (nothing
// published for more than StaleTicks ticks, or its data-plane lease has run out), a service the
// daemon does not know, a tier it does not have, or a dry-run service: nothing is shed.
package spillway
