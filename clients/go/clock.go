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
var monoBase, monoStart = monoRaw(), time.Now()

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
