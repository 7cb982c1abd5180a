// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"fmt"
	"strconv"
	"syscall"
)

// A report is a hint refreshed every few tens of milliseconds: losing one costs nothing,
// stalling the app to deliver it would. So every send is a raw non-blocking sendto (the net
// package would wait for the socket to drain), and its failure is returned, not retried.

// ReportError is a report that was not delivered; errors.Is(err, syscall.EAGAIN) and so on
// say why.
type ReportError struct {
	Line  string
	Errno syscall.Errno
}

func (e *ReportError) Error() string {
	return fmt.Sprintf("spillway: report %q dropped: %v", e.Line, e.Errno)
}

func (e *ReportError) Unwrap() error { return e.Errno }

func validName(name string) bool {
	if len(name) == 0 || len(name) >= clientNameMax {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '_' || ch == '.' || ch == '-') {
			return false
		}
	}
	return true
}

// optField appends " key=N" when v is not negative.
func optField(b []byte, key string, v int64) []byte {
	if v < 0 {
		return b
	}
	b = append(append(append(b, ' '), key...), '=')
	return strconv.AppendInt(b, v, 10)
}

func (c *Client) send(line []byte) error {
	if len(line) >= clientLineMax {
		return &ReportError{string(line), syscall.EINVAL}
	}
	// MSG_NOSIGNAL: a datagram socket cannot raise SIGPIPE today; it says what we mean.
	err := syscall.Sendto(c.reportFd, line, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL,
		&c.reportAddr)
	if err == nil {
		return nil
	}
	errno, ok := err.(syscall.Errno)
	if !ok {
		errno = syscall.EIO
	}
	if errno == syscall.EWOULDBLOCK {
		errno = syscall.EAGAIN
	}
	return &ReportError{string(line), errno}
}

// ReportPool sends `pool NAME in_use=N capacity=N [waiting=N] [wait_ms=N]`; waiting and
// waitMS are left out when negative. nil, or a *ReportError saying why it was dropped.
func (c *Client) ReportPool(name string, inUse, capacity uint64, waiting, waitMS int64) error {
	if !validName(name) {
		return &ReportError{"pool " + name, syscall.EINVAL}
	}
	b := make([]byte, 0, 96)
	b = append(append(append(b, "pool "...), name...), " in_use="...)
	b = append(strconv.AppendUint(b, inUse, 10), " capacity="...)
	b = strconv.AppendUint(b, capacity, 10)
	b = optField(optField(b, "waiting", waiting), "wait_ms", waitMS)
	return c.send(b)
}

// ReportQueue sends `queue NAME depth=N [limit=N] [age_ms=N]`; limit and ageMS are left out
// when negative.
func (c *Client) ReportQueue(name string, depth uint64, limit, ageMS int64) error {
	if !validName(name) {
		return &ReportError{"queue " + name, syscall.EINVAL}
	}
	b := make([]byte, 0, 96)
	b = append(append(append(b, "queue "...), name...), " depth="...)
	b = strconv.AppendUint(b, depth, 10)
	b = optField(optField(b, "limit", limit), "age_ms", ageMS)
	return c.send(b)
}
