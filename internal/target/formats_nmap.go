package target

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// maxHostAddrs bounds the <address> elements of one nmap <host>.
const maxHostAddrs = 64

// nmapHost collects one <host> element while the decoder walks through it.
type nmapHost struct {
	line    int
	addrs   []netip.Addr
	ports   []int
	schemes []string
	seen    *portSet
}

// nmapPort is the <port> element being read.
type nmapPort struct {
	port   int
	tcp    bool
	open   bool
	scheme string
}

// decodeNmap reads nmap XML output (-oX) token by token, so memory stays
// O(one host). Each <host> yields one block per IPv4/IPv6 <address>, over
// its open TCP ports. A port whose service nmap names "https" or
// "ssl/http", or marks tunnel="ssl", gets Scheme "https"; others get ""
// (the prober detects TLS). Host names are ignored: the address is what
// nmap connected to.
func decodeNmap(r io.Reader, s *sink) error {
	d := xml.NewDecoder(r)
	var (
		root bool
		host *nmapHost
		port *nmapPort
		seen portSet
	)
	line := func() int { l, _ := d.InputPos(); return l }
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !root {
				return fmt.Errorf("%s: not nmap XML: no <nmaprun> element", s.name)
			}
			return nil
		}
		if err != nil {
			return s.errAt(line(), fmt.Errorf("nmap XML: %w", err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !root {
				if t.Name.Local != "nmaprun" {
					return s.errAt(line(), fmt.Errorf("not nmap XML: root element <%s>, want <nmaprun>", t.Name.Local))
				}
				root = true
				continue
			}
			switch t.Name.Local {
			case "host":
				if host != nil { // a <host> inside a <host>: drop the outer one
					for _, p := range host.ports {
						seen.del(p)
					}
				}
				host = &nmapHost{line: line(), seen: &seen}
				port = nil
			case "address":
				if host == nil {
					continue
				}
				kind := xmlAttr(t, "addrtype")
				if kind != "ipv4" && kind != "ipv6" {
					continue
				}
				a, err := netip.ParseAddr(xmlAttr(t, "addr"))
				if err != nil || a.Is4() != (kind == "ipv4") {
					return s.errAt(line(), fmt.Errorf("nmap XML: invalid %s address %q", kind, xmlAttr(t, "addr")))
				}
				if len(host.addrs) >= maxHostAddrs {
					return s.errAt(line(), fmt.Errorf("nmap XML: more than %d addresses in one host", maxHostAddrs))
				}
				host.addrs = append(host.addrs, a)
			case "port":
				if host == nil {
					continue
				}
				p, err := parsePort(xmlAttr(t, "portid"))
				if err != nil {
					return s.errAt(line(), fmt.Errorf("nmap XML: %w", err))
				}
				port = &nmapPort{port: p, tcp: xmlAttr(t, "protocol") == "tcp"}
			case "state":
				if port != nil {
					port.open = xmlAttr(t, "state") == "open"
				}
			case "service":
				if port != nil {
					name := xmlAttr(t, "name")
					if name == "https" || name == "ssl/http" || xmlAttr(t, "tunnel") == "ssl" {
						port.scheme = "https"
					}
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "port":
				if host != nil && port != nil && port.tcp && port.open && !host.seen.has(port.port) {
					host.seen.add(port.port)
					host.ports = append(host.ports, port.port)
					host.schemes = append(host.schemes, port.scheme)
				}
				port = nil
			case "host":
				if host == nil {
					continue
				}
				for _, p := range host.ports {
					seen.del(p)
				}
				if err := host.emit(s); err != nil {
					return err
				}
				host, port = nil, nil
			}
		}
	}
}

func (h *nmapHost) emit(s *sink) error {
	if len(h.ports) == 0 {
		return nil
	}
	src := s.at(h.line)
	for _, a := range h.addrs {
		if err := s.emit(addrBlock(a, h.ports, h.schemes, src)); err != nil {
			return err
		}
	}
	return nil
}

// addrBlock is the block of one address over ports.
func addrBlock(a netip.Addr, ports []int, schemes []string, source string) *block {
	b := &block{source: source, ports: ports, schemes: schemes, nAddr: 1}
	if a.Zone() != "" {
		b.host = a.String()
	} else {
		b.first = a
	}
	return b
}

func xmlAttr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
