// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)

package spillway

import (
	"encoding/binary"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The seqlock (include/spillway_state.h): the writer makes seq odd, writes, makes it even. A
// reader loads seq; if odd, retries; copies what it needs; loads seq again; if it changed,
// retries. Every load here is a sync/atomic load of an aligned word: sequentially consistent
// in Go's memory model, so the copy stays between the two loads of seq on any CPU, and no
// word is torn (a mix of words from two publishes is what the seq check discards).

// mapping is one mapping of one state file (one daemon run).
type mapping struct {
	mem      []byte
	dev, ino uint64
	stuckSeq atomic.Uint32 // an odd seq that stayed odd too long: the writer died
}

// native is the host's byte order, the daemon's too: words copied out keep their bytes.
var native binary.ByteOrder = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

func mapFile(path string) *mapping {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	// A shorter file would fault us on the far pages: only map what the daemon made.
	if err != nil || st.Size() < fileSize {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, fileSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	m := &mapping{mem: mem}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		m.dev, m.ino = uint64(sys.Dev), sys.Ino
	}
	return m
}

func (m *mapping) word(off int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&m.mem[off])))
}

// copyWords copies len(dst) bytes (a multiple of 4) from off (4-aligned) word by word.
func (m *mapping) copyWords(dst []byte, off int) {
	for i := 0; i < len(dst); i += 4 {
		native.PutUint32(dst[i:], m.word(off+i))
	}
}

// uintAt decodes an unsigned integer of size bytes at off of b.
func uintAt(b []byte, off, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[off])
	case 2:
		return uint64(native.Uint16(b[off:]))
	case 4:
		return uint64(native.Uint32(b[off:]))
	default:
		return native.Uint64(b[off:])
	}
}

// intAt decodes a signed integer of size bytes at off of b.
func intAt(b []byte, off, size int) int64 {
	v := uintAt(b, off, size)
	shift := 64 - 8*size
	return int64(v<<shift) >> shift
}

// The file's fields a check reads, as one word-aligned span.
const (
	hdrLo = fileNservicesOff &^ 3
	hdrHi = (fileTickMsOff + fileTickMsSize + 3) &^ 3
)

// Compile-time checks that the layout suits word copies: a negative array length fails.
var (
	_ [hdrHi - (fileUpdatedNsOff + fileUpdatedNsSize)]byte
	_ [hdrHi - (fileNservicesOff + fileNservicesSize)]byte
	_ [fileTickMsOff - hdrLo]byte
	_ [fileUpdatedNsOff - hdrLo]byte
	_ [1 - fileServices%4]byte
	_ [1 - serviceSize%4]byte
	_ [1 - serviceHead%4]byte
	_ [1 - fileSeqOff%4]byte
	_ [4 - fileSeqSize]byte
	_ [fileSeqSize - 4]byte
)

// svcHead is a service record's head (no signals), decoded.
type svcHead struct {
	level, floor, ceiling uint64
	tierCount, flags      uint64
	pressureMilli         int64
	retryLo, retryHi      uint32
	admitted              [svcAdmittedPermilleCount]uint16
	leaseExpiresNs        uint64
}

func decodeHead(b []byte) svcHead {
	h := svcHead{
		level:          uintAt(b, svcLevelOff, svcLevelSize),
		floor:          uintAt(b, svcFloorOff, svcFloorSize),
		ceiling:        uintAt(b, svcCeilingOff, svcCeilingSize),
		tierCount:      uintAt(b, svcTierCountOff, svcTierCountSize),
		flags:          uintAt(b, svcFlagsOff, svcFlagsSize),
		pressureMilli:  intAt(b, svcPressureMilliOff, svcPressureMilliSize),
		retryLo:        uint32(uintAt(b, svcRetryLoSOff, svcRetryLoSSize)),
		retryHi:        uint32(uintAt(b, svcRetryHiSOff, svcRetryHiSSize)),
		leaseExpiresNs: uintAt(b, svcLeaseExpiresNsOff, svcLeaseExpiresNsSize),
	}
	for t := range h.admitted {
		h.admitted[t] = uint16(uintAt(b, svcAdmittedPermilleOff+t*svcAdmittedPermilleSize,
			svcAdmittedPermilleSize))
	}
	return h
}

// view is what one check needs, copied consistently.
type view struct {
	updatedNs uint64
	tickMs    uint64
	found     bool
	svc       svcHead
}

// readView fills v, or says errStale when there is no readable, current-format state.
func readView(m *mapping, service string, v *view) error {
	if m == nil {
		return ErrStale
	}
	// magic and version are written before the file is renamed in place: never change.
	if uint64(m.word(fileMagicOff)) != stateMagic || uint64(m.word(fileVersionOff)) != stateVersion {
		return ErrStale
	}
	var hdr [hdrHi - hdrLo]byte
	var name [svcNameCount]byte
	var head [serviceHead]byte
	var deadline uint64
	lookup := len(service) < svcNameCount
	for tries := 0; ; tries++ {
		if tries >= clientReadSpins {
			now := monoNow()
			if deadline == 0 {
				deadline = now + clientReadBudgetNs
			} else if now > deadline {
				if s := m.word(fileSeqOff); s&1 != 0 {
					m.stuckSeq.Store(s)
				}
				return ErrStale
			}
			syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		}
		s1 := m.word(fileSeqOff)
		if s1&1 != 0 {
			if s1 == m.stuckSeq.Load() {
				return ErrStale
			}
			continue
		}
		m.copyWords(hdr[:], hdrLo)
		v.found = false
		// Mid-write numbers are only bounded here; the seq check below discards them.
		n := int(uintAt(hdr[:], fileNservicesOff-hdrLo, fileNservicesSize))
		if n > stateServices {
			n = stateServices
		}
		for i := 0; lookup && i < n; i++ {
			base := fileServices + i*serviceSize
			m.copyWords(name[:], base+svcNameOff)
			if string(name[:len(service)]) == service && name[len(service)] == 0 {
				m.copyWords(head[:], base)
				v.found = true
				break
			}
		}
		if m.word(fileSeqOff) == s1 {
			break
		}
	}
	v.updatedNs = uintAt(hdr[:], fileUpdatedNsOff-hdrLo, fileUpdatedNsSize)
	v.tickMs = uintAt(hdr[:], fileTickMsOff-hdrLo, fileTickMsSize)
	if v.found {
		v.svc = decodeHead(head[:])
	}
	return nil
}

// fresh: published within clientStaleTicks ticks, and the data plane's lease holds.
func fresh(v *view, now uint64) bool {
	tick := v.tickMs
	if tick == 0 {
		tick = clientDefaultTickMs
	}
	// A clock behind updatedNs wraps to huge: stale, fail open.
	if v.updatedNs == 0 || now-v.updatedNs > clientStaleTicks*tick*1000000 {
		return false
	}
	return !v.found || v.svc.leaseExpiresNs > now
}
