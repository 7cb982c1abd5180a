// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

// httpserver is a small net/http server that uses spillway both ways:
//
//   - every 50 ms it reports its request pool: `pool NAME in_use=<requests in flight>
//     capacity=<-capacity>`; a service whose config names the signal `pool NAME` then sheds
//     when the server is saturated;
//   - its handler sits behind spillway's Middleware, which answers 503 with Retry-After while
//     the request's tier is shed.
//
// The tier of a request is its X-Tier header (0 = most critical), else -tier. GET /sleep/MS
// holds the request MS milliseconds (at most 10 s). Standard library and spillway only.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	spillway "spillway.dev/client"
)

const (
	// Several reports per daemon tick (100 ms) so the daemon never sees the pool stale.
	reportEvery = 50 * time.Millisecond
	sleepMaxMs  = 10000
)

func main() {
	addr := flag.String("address", "127.0.0.1", "listen address")
	port := flag.Int("port", 8080, "listen port (0: any free)")
	service := flag.String("service", "web", "spillway service to check")
	pool := flag.String("pool", "http", "pool name to report")
	tier := flag.Int("tier", 1, "tier of requests without X-Tier")
	capacity := flag.Uint64("capacity", 8, "requests in flight at 100 %")
	stateDir := flag.String("state-dir", "", "state folder (default "+spillway.StateDir+")")
	reportSocket := flag.String("report-socket", "",
		"report socket (default "+spillway.ReportSocket+")")
	flag.Parse()
	if *tier < 0 || *tier > 255 || *capacity < 1 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "httpserver: -tier is 0..255, -capacity at least 1")
		os.Exit(2)
	}
	c, err := spillway.Open(*stateDir, *reportSocket)
	if err != nil {
		log.Fatalf("httpserver: cannot open the spillway client: %v", err)
	}
	var inFlight atomic.Int64

	// -1 for a bad header: no such tier, so the middleware passes it to app, which says 400.
	tierOf := func(r *http.Request) int {
		h := r.Header.Get("X-Tier")
		if h == "" {
			return *tier
		}
		if t, err := strconv.ParseUint(h, 10, 8); err == nil {
			return int(t)
		}
		return -1
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := tierOf(r)
		if t < 0 {
			http.Error(w, "bad X-Tier", http.StatusBadRequest)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/sleep/") {
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/sleep/"))
			if n > sleepMaxMs {
				n = sleepMaxMs
			}
			time.Sleep(time.Duration(n) * time.Millisecond)
		}
		fmt.Fprintf(w, "ok tier=%d\n", t)
	})
	shedding := c.Middleware(*service, tierOf, app)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		shedding.ServeHTTP(w, r)
	})

	go func() {
		warned := false
		for range time.Tick(reportEvery) {
			// Never blocks; a daemon that is down just misses the report.
			err := c.ReportPool(*pool, uint64(inFlight.Load()), *capacity, -1, -1)
			if err != nil && !warned {
				log.Printf("httpserver: reports are not delivered: %v (said once)", err)
				warned = true
			}
		}
	}()

	l, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("httpserver: cannot listen: %v", err)
	}
	fmt.Printf("listening on port %d: service %s, pool %s\n", l.Addr().(*net.TCPAddr).Port,
		*service, *pool)
	log.Fatal(http.Serve(l, counted))
}
