// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"fmt"
	"math"
	"sync"
	"testing"
)

// No torn reads: 4 goroutines check the shed state while the daemon's writer publishes 1,000
// states, each derived from one counter k, so that a read mixing two publishes is an
// impossible combination of fields.
func TestNoTornReads(t *testing.T) {
	const publishes, readers, gapUs = 1000, 4, 50
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	// The writer's own rule for each level's admitted share: the readers' truth.
	var admitted [patCeiling + 1][patTiers]uint16
	for level := range admitted {
		for tier := range admitted[level] {
			admitted[level][tier] = uint16(w.do(fmt.Sprintf("expect %d %d", level, tier))[1])
		}
	}
	w.publish(1, 0, 0)
	type stats struct {
		checks, distinct, bad, stale int
		last                         uint32
		why                          string
	}
	st := make([]stats, readers)
	var start, stop sync.WaitGroup
	done := make(chan struct{})
	start.Add(readers)
	stop.Add(readers)
	for i := range st {
		go func(s *stats, tier int) {
			defer stop.Done()
			s.last = 1
			start.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				o, err1 := c.ShedState("web", tier)
				ss, err2 := c.ServiceState("web")
				// Stale is the clock's verdict on a writer the scheduler paused (a loaded
				// machine), or a read that gave up (ErrStale) after its budget because the
				// reader itself was paused mid-read, not a tear: a stale read must fail
				// open, and is then not checked against the pattern.
				if o.Stale || ss.Stale {
					if (o.Stale && (o.Shed || o.AdmittedPermille != 1000)) ||
						(ss.Stale && (ss.Shedding || ss.AdmittedPermille != 1000)) {
						s.bad++
					}
					s.stale++
					continue
				}
				k := o.RetryLoS
				adm := admitted[k%(patCeiling+1)][tier]
				ok := err1 == nil && err2 == nil && o.RetryHiS == k+10 &&
					math.Abs(o.Pressure*1000-7*float64(k)) < 0.5 &&
					o.AdmittedPermille == adm && o.Shed == (adm < 1000) && !o.Stale &&
					(!o.Shed || (o.RetryAfterS >= k && o.RetryAfterS <= k+10)) &&
					k >= s.last &&
					// a second read, maybe of a later k: consistent in itself
					ss.Shedding == (ss.AdmittedPermille < 1000) && !ss.Stale
				if !ok {
					if s.bad++; s.bad == 1 {
						s.why = fmt.Sprintf("k %d (last %d): %+v %v %+v %v (want admitted %d)",
							k, s.last, o, err1, ss, err2, adm)
					}
					continue
				}
				s.checks++
				if k != s.last {
					s.distinct++
				}
				s.last = k
			}
		}(&st[i], i%patTiers)
	}
	start.Wait()
	n := 1 + w.do(fmt.Sprintf("burst 2 %d %d", publishes, gapUs))[0]
	close(done)
	stop.Wait()
	if n != publishes {
		t.Fatalf("published %d", n)
	}
	total := 0
	for i, s := range st {
		t.Logf("reader %d: %d checks, %d states seen, last %d, torn %d, stale %d", i,
			s.checks, s.distinct, s.last, s.bad, s.stale)
		if s.bad != 0 {
			t.Errorf("reader %d saw %d impossible states, first: %s", i, s.bad, s.why)
		}
		// Progress: each reader followed the writer, not one frozen state.
		if s.distinct < 10 {
			t.Errorf("reader %d saw only %d states", i, s.distinct)
		}
		total += s.checks
	}
	t.Logf("torn reads: 0 over %d checks of %d publishes", total, publishes)
}
