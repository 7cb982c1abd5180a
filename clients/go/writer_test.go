// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The daemon's own shed-state writer (user/lib/spw_state_write.c), run as the test program
// build/tests/clients/state_writer (tests/clients/state_writer.c) and driven line by line, so
// the client reads files exactly as the daemon writes them. States are numbered by one counter
// k (tests/lib/state_pattern.h): service "web", 3 tiers, level k % 97, pressure 7k milli,
// Retry-After [k, k + 10] s.
const (
	patTiers   = 3
	patCeiling = patTiers * 32
	patTickMs  = 1000
)

type stateWriter struct {
	t   testing.TB
	dir string
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func writerPath(t testing.TB) string {
	path := os.Getenv("SPW_STATE_WRITER")
	if path == "" {
		path = filepath.Join("..", "..", "build", "tests", "clients", "state_writer")
	}
	if st, err := os.Stat(path); err != nil || st.Mode()&0111 == 0 {
		t.Fatalf("%s is missing: build it with `make build/tests/clients/state_writer` "+
			"(part of `make tests`), or set SPW_STATE_WRITER", path)
	}
	return path
}

// newWriter starts a writer of dir/state (a new temporary dir when dir is ""); the file
// exists, nothing published, once it returns. Stopped at the test's end.
func newWriter(t testing.TB, dir string) *stateWriter {
	if dir == "" {
		dir = t.TempDir()
	}
	w := &stateWriter{t: t, dir: dir, cmd: exec.Command(writerPath(t), dir)}
	w.cmd.Stderr = os.Stderr
	var err error
	if w.in, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.out = bufio.NewReader(stdout)
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.stop)
	w.do("expect 0 0") // answered once the file is there
	return w
}

func (w *stateWriter) do(line string) []int {
	w.t.Helper()
	if _, err := io.WriteString(w.in, line+"\n"); err != nil {
		w.t.Fatalf("state_writer: %q: %v", line, err)
	}
	answer, err := w.out.ReadString('\n')
	f := strings.Fields(answer)
	if err != nil || len(f) == 0 || f[0] != "ok" {
		w.t.Fatalf("state_writer: %q: %q %v", line, answer, err)
	}
	var nums []int
	for _, s := range f[1:] {
		n, _ := strconv.Atoi(s)
		nums = append(nums, n)
	}
	return nums
}

func (w *stateWriter) publish(k, ageMs, flags int) {
	w.t.Helper()
	w.do(fmt.Sprintf("publish %d %d %d", k, ageMs, flags))
}

func (w *stateWriter) stop() {
	io.WriteString(w.in, "quit\n")
	w.in.Close()
	w.cmd.Wait()
}

// openClient opens a client of w's folder, closed at the test's end.
func openClient(t testing.TB, dir string) *Client {
	c, err := Open(dir, filepath.Join(dir, "report.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
