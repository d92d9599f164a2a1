package dashboard

import (
	"context"
	"net/netip"

	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// maxEndpointPeers caps the peers listed on an endpoint page.
const maxEndpointPeers = 200

// addPeers fills the listener and its sampled peers of an endpoint found
// by a host audit, when the store keeps connections.
func (s *server) addPeers(ctx context.Context, v *endpointView, es *model.EndpointState) error {
	cs, ok := s.store.(store.Connections)
	if !ok || es == nil || es.Latest == nil || es.Latest.Endpoint == nil || es.Latest.Endpoint.Listen == nil {
		return nil
	}
	l := es.Latest.Endpoint.Listen
	a, err := netip.ParseAddr(l.Address)
	if err != nil || l.Port < 1 || l.Port > 65535 {
		return nil
	}
	v.Listener = netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(l.Port)).String()
	peers, err := cs.Peers(ctx, v.Listener, maxEndpointPeers)
	if err != nil {
		return err
	}
	v.Peers = peers
	return nil
}
