// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"syscall"
	"time"
	"unsafe"
)

// The daemon stamps CLOCK_MONOTONIC. Go's monotonic clock is the same clock (the runtime
// reads CLOCK_MONOTONIC through the vDSO), but its zero is not exposed: read the absolute value
// once, then add Go's monotonic time since, so a check costs no syscall.
var monoBase, monoStart = monoCalibrate()

// monoCalibrate pairs a CLOCK_MONOTONIC reading with the Go time taken just before it, of the
// tightest of a few tries. Go's time is taken before the raw value, so monoNow is never
// behind the clock, only ahead by less than the gap: a clock behind the daemon's stamp reads a state
// published a moment ago as from the future, stale. Read once one after the other, a thread
// descheduled between them left monoNow behind by that long (7 us here; milliseconds on a
// loaded machine, and a state published then read at once was stale).
func monoCalibrate() (int64, time.Time) {
	var base int64
	var start time.Time
	best := time.Duration(-1)
	for i := 0; i < 16; i++ {
		before := time.Now()
		raw := monoRaw()
		after := time.Now()
		if gap := after.Sub(before); best < 0 || gap < best {
			best, base, start = gap, raw, before
		}
	}
	return base, start
}

func monoRaw() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	_, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic,
		uintptr(unsafe.Pointer(&ts)), 0)
	if e != 0 {
		panic("spillway: clock_gettime(CLOCK_MONOTONIC): " + e.Error())
	}
	return ts.Nano()
}

// monoNow is CLOCK_MONOTONIC in nanoseconds.
func monoNow() uint64 {
	return uint64(monoBase + int64(time.Since(monoStart)))
}
