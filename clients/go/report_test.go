// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A report call "returns at once" when it takes less than this: a call that blocked on a
// full or dead socket would wait for the daemon, seconds or forever; a loaded 2-core machine
// can delay a call that does not block by tens of milliseconds.
const atOnce = 250 * time.Millisecond

func timed(t *testing.T, what string, f func() error) error {
	t.Helper()
	t0 := time.Now()
	err := f()
	if d := time.Since(t0); d >= atOnce {
		t.Fatalf("%s took %v", what, d)
	}
	return err
}

func wantErrno(t *testing.T, err error, want syscall.Errno) {
	t.Helper()
	var re *ReportError
	if !errors.Is(err, want) || !errors.As(err, &re) {
		t.Fatalf("got %v, want a ReportError with %v", err, want)
	}
}

// Reports: the daemon is not there.
func TestReportNoDaemon(t *testing.T) {
	dir := t.TempDir()
	c := openClient(t, dir)
	wantErrno(t, timed(t, "pool", func() error { return c.ReportPool("db", 3, 10, 0, 5) }),
		syscall.ENOENT)
	wantErrno(t, timed(t, "queue", func() error { return c.ReportQueue("jobs", 3, 100, -1) }),
		syscall.ENOENT)
}

// Bad names are refused before any send; 31 characters is the longest the daemon takes.
func TestReportBadNames(t *testing.T) {
	c := openClient(t, t.TempDir())
	for _, name := range []string{"a b", "", "x\npool y", strings.Repeat("a", 32), "é"} {
		wantErrno(t, c.ReportPool(name, 1, 2, -1, -1), syscall.EINVAL)
		wantErrno(t, c.ReportQueue(name, 1, -1, -1), syscall.EINVAL)
	}
	wantErrno(t, c.ReportPool(strings.Repeat("a", 31), 1, 2, -1, -1), syscall.ENOENT)
}

// The exact lines the daemon parses; a daemon that does not read fills up and the report
// says EAGAIN at once; a daemon that died leaves a socket nobody is bound to.
func TestReportLinesFullGone(t *testing.T) {
	dir := t.TempDir()
	c := openClient(t, dir)
	d, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "report.sock"),
		Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 600)
	for _, tc := range []struct {
		send func() error
		want string
	}{
		{func() error { return c.ReportPool("db", 3, 10, 2, 5) },
			"pool db in_use=3 capacity=10 waiting=2 wait_ms=5"},
		{func() error { return c.ReportQueue("jobs", 7, -1, 120) }, "queue jobs depth=7 age_ms=120"},
		{func() error { return c.ReportPool("db", 0, 10, -1, -1) }, "pool db in_use=0 capacity=10"},
		{func() error { return c.ReportQueue("q.1-x_y", 18446744073709551615, 100, -5) },
			"queue q.1-x_y depth=18446744073709551615 limit=100"},
	} {
		if err := tc.send(); err != nil {
			t.Fatal(err)
		}
		n, err := d.Read(buf)
		if err != nil || string(buf[:n]) != tc.want {
			t.Fatalf("got %q %v, want %q", buf[:n], err, tc.want)
		}
	}
	for i := 0; i < 100000; i++ {
		if err = timed(t, "pool", func() error { return c.ReportPool("db", 3, 10, 0, 5) }); err != nil {
			break
		}
	}
	wantErrno(t, err, syscall.EAGAIN)
	wantErrno(t, timed(t, "pool", func() error { return c.ReportPool("db", 3, 10, 0, 5) }),
		syscall.EAGAIN)
	d.Close()
	wantErrno(t, timed(t, "pool", func() error { return c.ReportPool("db", 3, 10, 0, 5) }),
		syscall.ECONNREFUSED)
}

// A socket the app may not write: EACCES. Root passes file permissions, so as root the send
// runs with the file-system identity of nobody (setfsuid is per thread: this one, locked).
func TestReportNotAllowed(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "report.sock")
	d, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := os.Chmod(sock, 0); err != nil {
		t.Fatal(err)
	}
	c := openClient(t, dir)
	if os.Geteuid() == 0 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		syscall.Syscall(syscall.SYS_SETFSUID, 65534, 0, 0)
		defer syscall.Syscall(syscall.SYS_SETFSUID, 0, 0, 0)
	}
	wantErrno(t, c.ReportPool("db", 1, 2, -1, -1), syscall.EACCES)
}

func TestOpenPathTooLong(t *testing.T) {
	if _, err := Open(t.TempDir(), "/"+strings.Repeat("x", 200)); err != syscall.ENAMETOOLONG {
		t.Fatalf("got %v", err)
	}
}
