// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const flagDryRunPattern = 4

func shed(t *testing.T, c *Client, svc string, tier int, wantErr error) ShedState {
	t.Helper()
	st, err := c.ShedState(svc, tier)
	if err != wantErr {
		t.Fatalf("ShedState(%q, %d): error %v, want %v", svc, tier, err, wantErr)
	}
	return st
}

// The state as the daemon's writer publishes it.
func TestFreshState(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	w.publish(64, 0, 0) // level 64: tier 2 fully shed, tiers 0 and 1 admitted
	st := shed(t, c, "web", 2, nil)
	if !st.Shed || st.Stale || st.AdmittedPermille != 0 || st.RetryLoS != 64 ||
		st.RetryHiS != 74 || math.Abs(st.Pressure-0.448) > 1e-9 {
		t.Fatalf("%+v", st)
	}
	if st := shed(t, c, "web", 1, nil); st.Shed || st.RetryAfterS != 0 {
		t.Fatalf("%+v", st)
	}
	w.publish(80, 0, 0) // half of tier 2 admitted: the whole tier is refused
	if st := shed(t, c, "web", 2, nil); !st.Shed || st.AdmittedPermille != 500 {
		t.Fatalf("%+v", st)
	}
	ss, err := c.ServiceState("web")
	if err != nil || !ss.Shedding || ss.AdmittedPermille != 80*1000/patCeiling ||
		math.Abs(ss.Pressure-0.56) > 1e-9 {
		t.Fatalf("%+v %v", ss, err)
	}
	w.publish(96, 0, 0)
	ss, _ = c.ServiceState("web")
	if st := shed(t, c, "web", 2, nil); st.Shed || ss.Shedding || ss.AdmittedPermille != 1000 {
		t.Fatalf("%+v %+v", st, ss)
	}
}

// Retry-After is drawn per call over the whole range, and is at least 1 when shed.
func TestRetryAfterJitter(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	for _, k := range []int{64, 0} {
		w.publish(k, 0, 0)
		seen := map[uint32]bool{}
		for i := 0; i < 2000; i++ {
			seen[shed(t, c, "web", 2, nil).RetryAfterS] = true
		}
		lo := uint32(k)
		if lo == 0 {
			lo = 1 // a 0 drawn from [0, 10] is sent as 1
		}
		for s := lo; s <= uint32(k)+10; s++ {
			if !seen[s] {
				t.Fatalf("state %d: %d never drawn: %v", k, s, seen)
			}
		}
		if len(seen) != int(uint32(k)+10-lo+1) {
			t.Fatalf("state %d: drew outside the range: %v", k, seen)
		}
	}
}

func TestNeverPublished(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	if st := shed(t, c, "web", 2, ErrStale); !st.Stale || st.Shed {
		t.Fatalf("%+v", st)
	}
	if _, err := c.ShedState("web", 2); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("%v does not match ESTALE", err)
	}
}

func TestStaleAfterThreeTicks(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	w.publish(64, 4*patTickMs, 0)
	if st := shed(t, c, "web", 2, ErrStale); !st.Stale || st.Shed || st.RetryAfterS != 0 {
		t.Fatalf("%+v", st)
	}
	ss, err := c.ServiceState("web")
	if err != ErrStale || !ss.Stale || ss.Shedding || ss.AdmittedPermille != 1000 ||
		!math.IsNaN(ss.Pressure) {
		t.Fatalf("%+v %v", ss, err)
	}
	w.publish(64, 2*patTickMs, 0) // 2 ticks old: still fresh
	if st := shed(t, c, "web", 2, nil); !st.Shed {
		t.Fatalf("%+v", st)
	}
}

// Published just now, but the data plane's lease has run out: it fails open, so must we.
func TestLeaseExpired(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	w.do("expired 64")
	if st := shed(t, c, "web", 2, ErrStale); st.Shed {
		t.Fatalf("%+v", st)
	}
}

func TestDryRunUnknownServiceAndTier(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	w.publish(64, 0, flagDryRunPattern)
	if st := shed(t, c, "web", 2, nil); !st.DryRun || st.Shed {
		t.Fatalf("%+v", st)
	}
	if ss, _ := c.ServiceState("web"); ss.Shedding {
		t.Fatalf("%+v", ss)
	}
	w.publish(64, 0, 0)
	if st := shed(t, c, "api", 2, ErrUnknownService); st.Shed || st.Stale {
		t.Fatalf("%+v", st)
	}
	if _, err := c.ServiceState("api"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("%v", err)
	}
	for _, tier := range []int{patTiers, 255, -1} {
		if st := shed(t, c, "web", tier, ErrUnknownTier); st.Shed || st.RetryLoS != 64 {
			t.Fatalf("tier %d: %+v", tier, st)
		}
	}
	// Names the file cannot hold, and prefixes of a real name, are not found.
	shed(t, c, strings.Repeat("w", 40), 0, ErrUnknownService)
	shed(t, c, "we", 0, ErrUnknownService)
	shed(t, c, "filler0", 0, nil)
}

// A writer that died inside a publish: the read gives up after its budget, then fails open
// at once.
func TestWriterDiedInsidePublish(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	w.publish(64, 0, 0)
	shed(t, c, "web", 2, nil)
	w.do("stuck")
	t0 := time.Now()
	st := shed(t, c, "web", 2, ErrStale)
	if d := time.Since(t0); st.Shed || d < 10*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("%+v after %v", st, d)
	}
	// Later checks do not wait the budget again: 20 of them take less than the budget 10
	// times over would (timed together, so one scheduling delay of a loaded machine does not
	// decide it).
	t0 = time.Now()
	for i := 0; i < 20; i++ {
		shed(t, c, "web", 2, ErrStale)
	}
	if d := time.Since(t0); d >= 10*clientReadBudgetNs*time.Nanosecond {
		t.Fatalf("20 stale checks after the first took %v", d)
	}
}

// A restart renames a new file over the old one: found at the first stale check, then at
// most once a second.
func TestRestartFoundOnceASecond(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	w.publish(64, 0, 0)
	shed(t, c, "web", 2, nil)
	w.publish(64, 4*patTickMs, 0)
	w.do("restart")
	w.publish(80, 0, 0)
	if st := shed(t, c, "web", 2, nil); st.AdmittedPermille != 500 {
		t.Fatalf("%+v", st)
	}
	w.publish(80, 4*patTickMs, 0)
	w.do("restart")
	w.publish(90, 0, 0)
	shed(t, c, "web", 2, ErrStale) // looked < 1 s ago
	time.Sleep(1100 * time.Millisecond)
	w.publish(90, 0, 0)
	if st := shed(t, c, "web", 2, nil); st.AdmittedPermille != 812 {
		t.Fatalf("%+v", st)
	}
}

func TestDaemonStartsLater(t *testing.T) {
	dir := t.TempDir()
	c := openClient(t, dir)
	shed(t, c, "web", 2, ErrStale)
	w := newWriter(t, dir)
	w.publish(64, 0, 0)
	shed(t, c, "web", 2, ErrStale) // looked < 1 s ago
	time.Sleep(1100 * time.Millisecond)
	w.publish(64, 0, 0)
	if st := shed(t, c, "web", 2, nil); !st.Shed {
		t.Fatalf("%+v", st)
	}
}

func TestShortOrForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, stateFile)
	if err := os.WriteFile(path, make([]byte, 100), 0644); err != nil {
		t.Fatal(err)
	}
	shed(t, openClient(t, dir), "web", 0, ErrStale)
	w := newWriter(t, dir)
	w.publish(64, 0, 0)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XXXX"), 0)
	f.Close()
	shed(t, openClient(t, dir), "web", 2, ErrStale)
}
