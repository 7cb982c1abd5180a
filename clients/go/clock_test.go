// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import "testing"

// monoNow is never behind CLOCK_MONOTONIC read just before it: a clock behind the daemon's
// stamp reads a state published a moment ago as from the future, stale. The base and Go's
// start time were read one after the other, so a thread descheduled between them left
// monoNow that far behind for the whole process (the client read a fresh state as stale).
func TestMonoNowNotBehind(t *testing.T) {
	for i := 0; i < 100000; i++ {
		raw := uint64(monoRaw())
		if now := monoNow(); now < raw {
			t.Fatalf("monoNow %d is %d ns behind CLOCK_MONOTONIC read before it", now,
				raw-now)
		}
	}
}
