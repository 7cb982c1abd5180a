// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The middleware answers 503 + Retry-After while the request's tier is shed, and passes it
// on otherwise, on one keep-alive connection.
func TestMiddleware(t *testing.T) {
	w := newWriter(t, "")
	c := openClient(t, w.dir)
	tierOf := func(r *http.Request) int { n, _ := strconv.Atoi(r.Header.Get("X-Tier")); return n }
	srv := httptest.NewServer(c.Middleware("web", tierOf,
		http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "ok") })))
	defer srv.Close()
	get := func(tier string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Tier", tier)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	w.publish(64, 0, 0)
	if code, retry := get("2"); code != 503 || retry < "64" || retry > "74" || len(retry) != 2 {
		t.Fatalf("tier 2: %d Retry-After %q", code, retry)
	}
	if code, retry := get("0"); code != 200 || retry != "" {
		t.Fatalf("tier 0: %d %q", code, retry)
	}
	w.publish(96, 0, 0)
	if code, _ := get("2"); code != 200 {
		t.Fatalf("recovered: %d", code)
	}
	w.publish(64, 4*patTickMs, 0) // the daemon went silent: fail open
	if code, _ := get("2"); code != 200 {
		t.Fatalf("stale: %d", code)
	}
}

// example is examples/httpserver, built by this test and running on 127.0.0.1.
type example struct {
	cmd  *exec.Cmd
	base string
}

func startExample(t testing.TB, stateDir, reportSocket string) *example {
	bin := filepath.Join(t.TempDir(), "httpserver")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin,
		"./examples/httpserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/httpserver: %v\n%s", err, out)
	}
	e := &example{cmd: exec.Command(bin, "-port", "0", "-state-dir", stateDir,
		"-report-socket", reportSocket)}
	e.cmd.Stderr = os.Stderr
	out, err := e.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cmd.Process.Kill(); e.cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "listening" {
		t.Fatalf("httpserver did not start: %q", line)
	}
	e.base = "http://127.0.0.1:" + strings.TrimSuffix(f[3], ":")
	return e
}

// get sends GET path with X-Tier (none when tier is "") on client's keep-alive connection.
func (e *example) get(t testing.TB, client *http.Client, path, tier string) (int, string, string) {
	req, _ := http.NewRequest("GET", e.base+path, nil)
	if tier != "" {
		req.Header.Set("X-Tier", tier)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// The example server answers 503 + Retry-After while its tier is shed and reports its pool.
func TestHTTPExample(t *testing.T) {
	w := newWriter(t, "")
	sock := filepath.Join(w.dir, "report.sock")
	d, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e := startExample(t, w.dir, sock)
	client := &http.Client{Timeout: 10 * time.Second}
	w.publish(64, 0, 0)
	if code, retry, _ := e.get(t, client, "/", "2"); code != 503 || len(retry) != 2 ||
		retry < "64" || retry > "74" {
		t.Fatalf("tier 2: %d Retry-After %q", code, retry)
	}
	if code, _, body := e.get(t, client, "/", ""); code != 200 || body != "ok tier=1\n" {
		t.Fatalf("default tier: %d %q", code, body)
	}
	if code, _, _ := e.get(t, client, "/", "x"); code != 400 {
		t.Fatalf("bad X-Tier: %d", code)
	}
	w.publish(96, 0, 0)
	if code, _, _ := e.get(t, client, "/", "2"); code != 200 {
		t.Fatalf("recovered: %d", code)
	}
	buf := make([]byte, 600)
	d.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := d.Read(buf)
	// in_use is 0 or 1: a report may have been sent while a request above was in flight.
	if line := string(buf[:n]); err != nil || (line != "pool http in_use=0 capacity=8" &&
		line != "pool http in_use=1 capacity=8") {
		t.Fatalf("report %q %v", line, err)
	}
}
