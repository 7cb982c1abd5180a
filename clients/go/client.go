// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"math"
	"math/rand"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

const (
	// StateDir is where the daemon publishes its shed state by default.
	StateDir = clientStateDir
	// ReportSocket is the daemon's report socket by default.
	ReportSocket = clientReportSocket
	// StaleTicks: the daemon is stale after this many of its ticks without a publish.
	StaleTicks = clientStaleTicks
)

// stateError is a reason the answer is the safe default; errors.Is matches its errno too.
type stateError struct {
	errno syscall.Errno
	msg   string
}

func (e *stateError) Error() string        { return e.msg }
func (e *stateError) Is(target error) bool { return target == e.errno }

var (
	// ErrStale: the daemon is not publishing (no file, old file, expired lease).
	ErrStale error = &stateError{syscall.ESTALE, "spillway: no fresh shed state (daemon down or silent)"}
	// ErrUnknownService: the service is not in the state.
	ErrUnknownService error = &stateError{syscall.ENOENT, "spillway: service not in the shed state"}
	// ErrUnknownTier: the service has no such tier.
	ErrUnknownTier error = &stateError{syscall.ERANGE, "spillway: the service has no such tier"}
)

// Client talks to one daemon. Safe for concurrent use; Close only when no other call runs.
type Client struct {
	statePath  string
	cur        atomic.Pointer[mapping] // nil: no file seen yet
	lock       sync.Mutex              // taken only to look for a new file, never per check
	retired    []*mapping              // under lock: readers may still be inside these
	nextLookNs atomic.Uint64           // when a stale reader may look for a new file
	reportFd   int
	reportAddr syscall.SockaddrUnix
}

// Open makes a client. stateDir: where the daemon publishes ("": StateDir); reportSocket:
// its report socket ("": ReportSocket). It succeeds when the daemon is not running yet: the
// state file is looked for again later (at most once a second).
func Open(stateDir, reportSocket string) (*Client, error) {
	if stateDir == "" {
		stateDir = StateDir
	}
	if reportSocket == "" {
		reportSocket = ReportSocket
	}
	c := &Client{statePath: filepath.Join(stateDir, stateFile)}
	if len(c.statePath) >= 4096 || len(reportSocket) >= 108 { // PATH_MAX, sun_path
		return nil, syscall.ENAMETOOLONG
	}
	// Unconnected: each send finds the socket by path, so a restarted daemon is found.
	fd, err := syscall.Socket(syscall.AF_UNIX,
		syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	c.reportFd = fd
	c.reportAddr.Name = reportSocket
	c.cur.Store(mapFile(c.statePath)) // nil is fine: the daemon may start later
	return c, nil
}

// Close unmaps the state and closes the report socket.
func (c *Client) Close() error {
	c.lock.Lock()
	defer c.lock.Unlock()
	for _, m := range append(c.retired, c.cur.Swap(nil)) {
		if m != nil {
			syscall.Munmap(m.mem)
		}
	}
	c.retired = nil
	return syscall.Close(c.reportFd)
}

// lookForFile maps a replaced or new state file, at most once a second over all goroutines.
func (c *Client) lookForFile(now uint64) bool {
	next := c.nextLookNs.Load()
	if now < next || !c.nextLookNs.CompareAndSwap(next, now+clientLookEveryNs) {
		return false
	}
	if !c.lock.TryLock() {
		return false
	}
	defer c.lock.Unlock()
	var st syscall.Stat_t
	cur := c.cur.Load()
	if syscall.Stat(c.statePath, &st) != nil ||
		(cur != nil && cur.dev == uint64(st.Dev) && cur.ino == st.Ino) {
		return false // no file, or the same one: the daemon is down or stuck
	}
	m := mapFile(c.statePath)
	if m == nil {
		return false
	}
	if cur != nil {
		c.retired = append(c.retired, cur)
	}
	c.cur.Store(m)
	return true
}

// lookup reads and judges; on ErrStale it also looks for a replaced file (rate-limited).
func (c *Client) lookup(service string, v *view) error {
	err := readView(c.cur.Load(), service, v)
	// After the read: a clock read before it could be older than what it found.
	now := monoNow()
	if err == nil && !fresh(v, now) {
		err = ErrStale
	}
	if err == ErrStale {
		// A new file (a daemon started or restarted) answers this very check.
		if !c.lookForFile(now) {
			return err
		}
		err = readView(c.cur.Load(), service, v)
		if err == nil && !fresh(v, monoNow()) {
			err = ErrStale
		}
		if err != nil {
			return err
		}
	}
	if !v.found {
		return ErrUnknownService
	}
	return nil
}

// ShedState is the state of one tier of one service for new work.
type ShedState struct {
	// Shed: refuse new work of this tier now. The data plane does not admit every cohort of
	// the tier (AdmittedPermille < 1000), the service is not in dry-run, the state is fresh.
	Shed             bool
	Stale            bool   // the daemon is not publishing: Shed is false (fail open)
	DryRun           bool   // the service is in dry-run: Shed is false
	Overridden       bool   // a manual override (spillway policy) sets the level
	AdmittedPermille uint16 // share of the tier's new flows admitted, 0..1000
	// RetryAfterS is what to send in Retry-After: drawn in [RetryLoS, RetryHiS] per call, at
	// least 1 when shed, 0 when not.
	RetryAfterS        uint32
	RetryLoS, RetryHiS uint32  // the daemon's range
	Pressure           float64 // the service's pressure (1.0 = at target); NaN: no fresh signal
}

// ServiceState is a service's overall state, for workers that size their concurrency and
// queue consumers.
type ServiceState struct {
	Pressure         float64 // max value/target of its fresh signals; NaN: none fresh
	Shedding         bool    // some tier is not fully admitted (and not dry-run)
	Stale            bool    // as above: then Shedding is false
	AdmittedPermille uint16  // share of all ranks admitted, 0..1000 (1000 when stale)
}

func pressureOf(milli int64) float64 {
	if milli == stateNoValue {
		return math.NaN()
	}
	return float64(milli) / 1000
}

// Each goroutine draws from a generator of its own P, mostly: no lock per draw.
var rngs = sync.Pool{New: func() any { return rand.New(rand.NewSource(int64(monoNow()))) }}

func draw(lo, hi uint32) uint32 {
	if hi <= lo {
		return lo
	}
	r := rngs.Get().(*rand.Rand)
	v := lo + uint32(r.Int63n(int64(hi)-int64(lo)+1))
	rngs.Put(r)
	return v
}

// ShedState says whether new work of tier (0 = most critical) of service should be refused
// now. It always returns a safe answer; the error is nil when it is the daemon's fresh word,
// ErrStale, ErrUnknownService or ErrUnknownTier otherwise.
func (c *Client) ShedState(service string, tier int) (ShedState, error) {
	out := ShedState{AdmittedPermille: 1000, Pressure: math.NaN()}
	var v view
	if err := c.lookup(service, &v); err != nil {
		out.Stale = err == ErrStale
		return out, err
	}
	s := &v.svc
	out.Pressure = pressureOf(s.pressureMilli)
	out.DryRun = s.flags&flagDryRun != 0
	out.Overridden = s.flags&flagOverridden != 0
	out.RetryLoS, out.RetryHiS = s.retryLo, s.retryHi
	if tier < 0 || uint64(tier) >= s.tierCount || tier >= maxTiers {
		return out, ErrUnknownTier
	}
	out.AdmittedPermille = s.admitted[tier]
	out.Shed = out.AdmittedPermille < 1000 && !out.DryRun
	if out.Shed {
		// A shed tier always gets a Retry-After, even when the range is 0 (override).
		out.RetryAfterS = draw(s.retryLo, s.retryHi)
		if out.RetryAfterS == 0 {
			out.RetryAfterS = 1
		}
	}
	return out, nil
}

// ServiceState gives a service's pressure, whether it sheds, and the share of all ranks
// admitted. Errors as ShedState's.
func (c *Client) ServiceState(service string) (ServiceState, error) {
	out := ServiceState{Pressure: math.NaN(), AdmittedPermille: 1000}
	var v view
	if err := c.lookup(service, &v); err != nil {
		out.Stale = err == ErrStale
		return out, err
	}
	s := &v.svc
	out.Pressure = pressureOf(s.pressureMilli)
	out.Shedding = s.flags&flagShedding != 0 && s.flags&flagDryRun == 0
	eff := s.level
	if s.floor > eff {
		eff = s.floor
	}
	if s.ceiling != 0 && eff < s.ceiling {
		out.AdmittedPermille = uint16(eff * 1000 / s.ceiling)
	}
	return out, nil
}
