package target

import (
	"encoding/binary"
	"net/netip"
)

// u128 is an address as a 128-bit integer, so that ranges can be counted,
// offset and compared without materialising them. IPv4 addresses use their
// IPv4-mapped IPv6 form; callers keep track of the family.
type u128 struct{ hi, lo uint64 }

func u128From(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// addr turns u back into an address of the given family.
func (u u128) addr(is4 bool) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	a := netip.AddrFrom16(b)
	if is4 {
		return a.Unmap()
	}
	return a
}

func (u u128) add(n uint64) u128 {
	lo := u.lo + n
	hi := u.hi
	if lo < u.lo {
		hi++
	}
	return u128{hi, lo}
}

// sub returns u-v; callers ensure u >= v.
func (u u128) sub(v u128) u128 {
	lo := u.lo - v.lo
	hi := u.hi - v.hi
	if u.lo < v.lo {
		hi--
	}
	return u128{hi, lo}
}

func (u u128) cmp(v u128) int {
	switch {
	case u.hi < v.hi:
		return -1
	case u.hi > v.hi:
		return 1
	case u.lo < v.lo:
		return -1
	case u.lo > v.lo:
		return 1
	}
	return 0
}

// addrAt returns first+off in first's family.
func addrAt(first netip.Addr, off uint64) netip.Addr {
	if first.Is4() {
		b := first.As4()
		v := binary.BigEndian.Uint32(b[:]) + uint32(off)
		binary.BigEndian.PutUint32(b[:], v)
		return netip.AddrFrom4(b)
	}
	return u128From(first).add(off).addr(false)
}

// lastOf returns the last address of the prefix starting at first (host
// bits clear) with hostBits host bits.
func lastOf(first netip.Addr, hostBits int) netip.Addr {
	u := u128From(first)
	switch {
	case hostBits >= 128:
		u = u128{^uint64(0), ^uint64(0)}
	case hostBits >= 64:
		u.lo = ^uint64(0)
		u.hi |= 1<<(hostBits-64) - 1
	default:
		u.lo |= 1<<hostBits - 1
	}
	return u.addr(first.Is4())
}
