// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"net/http"
	"strconv"
)

// Middleware answers 503 Service Unavailable with a Retry-After for requests whose tier
// (tierOf; 0 = most critical) of service is shed now, and hands the others to next. XDP sheds
// new connections; this sheds requests on keep-alive connections admitted before the
// overload. It fails open as ShedState does: with the daemon down, nothing is refused.
func (c *Client) Middleware(service string, tierOf func(*http.Request) int,
	next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An mmap read, no syscall.
		if st, _ := c.ShedState(service, tierOf(r)); st.Shed {
			w.Header().Set("Retry-After", strconv.FormatUint(uint64(st.RetryAfterS), 10))
			http.Error(w, "overloaded, retry later", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}
