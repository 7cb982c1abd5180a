// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

//go:build netns

package spillway

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The client against the real spillwayd, started by tests/netns/test_client_langs (which says
// where through SPW_TEST_*): service "web", 3 tiers, signal pool "db" at target 0.85, 10 ms
// ticks. Reports move pressure; the shed state flips while a tier is shed and back; a stopped
// daemon fails open; the HTTP example answers 503 while its tier is shed; 1,000 publishes are
// read with no torn read.

const (
	target = 0.85
	// Margins for a loaded 2-core machine: the daemon acts on a saturated report at once
	// and ticks every 10 ms; these are the longest waits before a test gives up.
	shedWithin    = 5 * time.Second
	recoverWithin = 15 * time.Second
)

type daemonEnv struct {
	stateDir, sock string
	pid            int
	tick           time.Duration
	c              *Client
}

func daemonSetup(t *testing.T) *daemonEnv {
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: run through build/tests/netns/test_client_langs", name)
		}
		return v
	}
	e := &daemonEnv{stateDir: get("SPW_TEST_STATE_DIR"), sock: get("SPW_TEST_REPORT_SOCKET")}
	e.pid, _ = strconv.Atoi(get("SPW_TEST_DAEMON_PID"))
	ms, _ := strconv.Atoi(get("SPW_TEST_TICK_MS"))
	e.tick = time.Duration(ms) * time.Millisecond
	c, err := Open(e.stateDir, e.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.c = c
	e.until(t, "full admission", func() bool {
		ss, err := c.ServiceState("web")
		return err == nil && !ss.Shedding
	}, recoverWithin, e.calm)
	return e
}

func (e *daemonEnv) saturate() error { return e.c.ReportPool("db", 10, 10, 5, 200) }
func (e *daemonEnv) calm() error     { return e.c.ReportPool("db", 0, 10, 0, 0) }

// until polls cond (reporting with report each round, when not nil) until it holds.
func (e *daemonEnv) until(t *testing.T, what string, cond func() bool, within time.Duration,
	report func() error) {
	t.Helper()
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		if report != nil {
			if err := report(); err != nil {
				t.Fatal(err)
			}
		}
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, within)
}

func TestRealDaemonReportsMovePressure(t *testing.T) {
	e := daemonSetup(t)
	for _, inUse := range []uint64{5, 8, 2} {
		want := float64(inUse) / 10 / target
		e.until(t, fmt.Sprintf("pressure %.3f", want), func() bool {
			ss, _ := e.c.ServiceState("web")
			return math.Abs(ss.Pressure-want) < 0.002
		}, shedWithin, func() error { return e.c.ReportPool("db", inUse, 10, -1, -1) })
	}
}

func TestRealDaemonShedStateFlips(t *testing.T) {
	e := daemonSetup(t)
	if st, _ := e.c.ShedState("web", 2); st.Shed {
		t.Fatalf("shed before any overload: %+v", st)
	}
	var st ShedState
	e.until(t, "tier 2 shed", func() bool { st, _ = e.c.ShedState("web", 2); return st.Shed },
		shedWithin, e.saturate)
	if st.RetryAfterS < 1 || st.AdmittedPermille >= 1000 || st.Pressure <= 1 {
		t.Fatalf("%+v", st)
	}
	if st0, _ := e.c.ShedState("web", 0); st0.Shed {
		t.Fatalf("tier 0 shed: %+v", st0) // the floor protects it
	}
	e.until(t, "tier 2 admitted again", func() bool {
		st, err := e.c.ShedState("web", 2)
		return err == nil && !st.Shed
	}, recoverWithin, e.calm)
}

func TestRealDaemonStoppedFailsOpen(t *testing.T) {
	e := daemonSetup(t)
	e.until(t, "tier 2 shed", func() bool { st, _ := e.c.ShedState("web", 2); return st.Shed },
		shedWithin, e.saturate)
	syscall.Kill(e.pid, syscall.SIGSTOP)
	defer syscall.Kill(e.pid, syscall.SIGCONT)
	t0 := time.Now()
	var st ShedState
	e.until(t, "stale", func() bool { st, _ = e.c.ShedState("web", 2); return st.Stale },
		2*time.Second, nil)
	// Not at once: only after 3 ticks without a publish (less the time since the last one,
	// which a late tick makes up to 2 ticks).
	if d := time.Since(t0); d < e.tick || st.Shed || st.RetryAfterS != 0 {
		t.Fatalf("%+v after %v", st, d)
	}
	syscall.Kill(e.pid, syscall.SIGCONT)
	e.until(t, "fresh again", func() bool { st, _ := e.c.ShedState("web", 2); return !st.Stale },
		2*time.Second, nil)
}

func TestRealDaemonHTTPExample(t *testing.T) {
	e := daemonSetup(t)
	ex := startExample(t, e.stateDir, e.sock)
	client := &http.Client{Timeout: 10 * time.Second}
	if code, _, _ := ex.get(t, client, "/", "2"); code != 200 {
		t.Fatalf("before the overload: %d", code)
	}
	e.until(t, "tier 2 shed", func() bool { st, _ := e.c.ShedState("web", 2); return st.Shed },
		shedWithin, e.saturate)
	e.saturate()
	code, retry, _ := ex.get(t, client, "/", "2")
	if n, _ := strconv.Atoi(retry); code != 503 || n < 1 {
		t.Fatalf("tier 2 shed: %d Retry-After %q", code, retry)
	}
	if code, _, _ := ex.get(t, client, "/", "0"); code != 200 {
		t.Fatalf("tier 0: %d", code)
	}
	e.until(t, "tier 2 served again", func() bool {
		code, _, _ := ex.get(t, client, "/", "2")
		return code == 200
	}, recoverWithin, e.calm)
}

// Readers check the raw records (freshness aside: a 10 ms tick on a loaded machine may well be
// late) while reports move the level: each record's admitted shares and flags must be the ones
// its own level gives.
func TestRealDaemonNoTornReads(t *testing.T) {
	const publishes, readers = 1000, 3
	e := daemonSetup(t)
	m := e.c.cur.Load()
	var v view
	if err := readView(m, "web", &v); err != nil || !v.found {
		t.Fatalf("%v %+v", err, v)
	}
	floor, ceiling, tiers := v.svc.floor, v.svc.ceiling, int(v.svc.tierCount)
	w := newWriter(t, "")
	truth := make([][]uint16, ceiling+1)
	for level := range truth {
		for tier := 0; tier < tiers; tier++ {
			truth[level] = append(truth[level],
				uint16(w.do(fmt.Sprintf("admitted %d %d %d", level, floor, tier))[0]))
		}
	}
	seq0 := m.word(fileSeqOff)
	type stats struct {
		reads, bad int
		why        string
		levels     map[uint64]bool
	}
	st := make([]stats, readers)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range st {
		wg.Add(1)
		go func(s *stats) {
			defer wg.Done()
			s.levels = map[uint64]bool{}
			for {
				select {
				case <-done:
					return
				default:
				}
				var v view
				err := readView(m, "web", &v)
				h := v.svc
				ok := err == nil && v.found && h.level <= ceiling &&
					h.flags&flagShedding != 0 == (h.level < ceiling) &&
					h.leaseExpiresNs > v.updatedNs
				for tier := 0; ok && tier < tiers; tier++ {
					ok = h.admitted[tier] == truth[h.level][tier]
				}
				if !ok {
					if s.bad++; s.bad == 1 {
						s.why = fmt.Sprintf("%v %+v", err, v)
					}
					continue
				}
				s.reads++
				s.levels[h.level] = true
			}
		}(&st[i])
	}
	end := time.Now().Add(60 * time.Second)
	// Alternate overload and calm so the level moves while they read.
	for n := 0; (m.word(fileSeqOff)-seq0)/2 < publishes && time.Now().Before(end); n++ {
		report := e.calm
		if (n/5)%2 == 1 {
			report = e.saturate
		}
		if err := report(); err != nil {
			t.Error(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	published := (m.word(fileSeqOff) - seq0) / 2
	close(done)
	wg.Wait()
	reads, bad, levels := 0, 0, map[uint64]bool{}
	for _, s := range st {
		reads += s.reads
		bad += s.bad
		for l := range s.levels {
			levels[l] = true
		}
		if s.bad != 0 {
			t.Errorf("%d impossible records, first: %s", s.bad, s.why)
		}
	}
	t.Logf("daemon torn reads: %d over %d reads of %d publishes, %d levels seen", bad, reads,
		published, len(levels))
	if published < publishes || len(levels) < 2 {
		t.Fatalf("%d publishes, %d levels: the test did not exercise the writer", published,
			len(levels))
	}
}
